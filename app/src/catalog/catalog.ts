import type { Logger } from '../log.ts';
import { isDbUnavailable } from '../db.ts';
import { HttpError, ServiceUnavailableError } from '../errors.ts';
import type { createReadThroughCache } from './cache.ts';
import type { ProductPage, ProductRepository } from './repository.ts';
import type { ProductEdit } from './validate.ts';

export type Catalog = ReturnType<typeof createCatalog>;
type ProductCache = ReturnType<typeof createReadThroughCache<ProductPage>>;

// The shape of what is cached under a key; bump it when ProductPage changes, so a deploy never reads the old shape.
const productKey = (id: number) => `product:v1:${id}`;

/** The product domain: reads through the cache, edits write through it. */
export function createCatalog({ repository, cache, log }: { repository: ProductRepository; cache: ProductCache; log: Logger }) {
  const fromDb = async <R>(query: () => Promise<R>): Promise<R> => {
    try {
      return await query();
    } catch (err) {
      throw isDbUnavailable(err) ? new ServiceUnavailableError(err) : err;
    }
  };

  return {
    /** The product page, and how it was served; null when there is no such product. */
    getProduct(id: number) {
      return cache.get(
        productKey(id),
        () => fromDb(() => repository.findPage(id)),
        (page) => page.version,
      );
    },

    list(offset: number, limit: number) {
      return fromDb(() => repository.list(offset, limit));
    },

    /**
     * Saves to PostgreSQL first (the source of truth), then writes the fresh page through to the cache with its new
     * version, so the next read on any instance sees it. Throws 404 for an unknown product.
     */
    async edit(id: number, edit: ProductEdit): Promise<void> {
      const version = await fromDb(() => repository.update(id, edit));
      if (version === null) throw new HttpError(404, `There is no product ${id}.`);
      try {
        const page = await repository.findPage(id);
        if (page) await cache.set(productKey(id), page, page.version);
      } catch (err) {
        // Saved, but the page could not be re-read: drop the cached copy so the next read loads the new one.
        log.warn({ id, reason: (err as Error).message }, 'product saved; cache refresh failed, invalidating');
        await cache.invalidate(productKey(id));
      }
    },
  };
}
