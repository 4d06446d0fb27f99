import { Router, type Response } from 'express';
import type { createCsrf } from '../csrf.ts';
import { HttpError } from '../errors.ts';
import { asRead } from '../reads.ts';
import { requireUser } from '../routes/policies.ts';
import type { Views } from '../views.ts';
import type { Catalog } from './catalog.ts';
import type { CacheState } from './cache.ts';
import { parsePageNumber, parseProductEdit, parseProductId } from './validate.ts';

type Deps = { catalog: Catalog; views: Views; csrf: ReturnType<typeof createCsrf>; instanceId: string };

const PAGE_SIZE = 50;

/** The paths this module routes, for the metrics' route labels (metrics.ts). */
export const CATALOG_PATHS = { list: '/products', page: '/products/:id', api: '/api/products/:id' } as const;

/** Product pages and API. Mounted after the session middleware (edits need a login) and the CSRF check. */
export function createCatalogRouter({ catalog, views, csrf, instanceId }: Deps) {
  const router = Router();

  // Says how the product was served on every product response, errors included: "miss" unless the cache answered.
  const served = (res: Response, state: CacheState) => res.set('X-Cache', state);

  async function productOr404(id: number, res: Response) {
    served(res, 'miss');
    const { value, state } = await catalog.getProduct(id);
    served(res, state);
    if (!value) throw new HttpError(404, `There is no product ${id}.`);
    return { product: value, state };
  }

  router.get(CATALOG_PATHS.list, async (req, res) => {
    const page = parsePageNumber(req.query.page);
    const { products, total } = await catalog.list((page - 1) * PAGE_SIZE, PAGE_SIZE);
    if (products.length === 0 && page > 1) throw new HttpError(404, `There is no page ${page}.`);
    views.render(res, 200, 'products', { products, page, pages: Math.ceil(total / PAGE_SIZE) });
  });

  router.get(
    CATALOG_PATHS.page,
    asRead(async (req, res) => {
      const { product, state } = await productOr404(parseProductId(String(req.params.id)), res);
      const user = req.session.user;
      views.render(res, 200, 'product', {
        title: product.name,
        product,
        cacheState: state,
        user,
        csrfToken: user ? csrf.token(req, res) : undefined,
        saved: req.query.saved === '1',
      });
    }),
  );

  router.get(CATALOG_PATHS.api, async (req, res) => {
    const { product, state } = await productOr404(parseProductId(req.params.id), res);
    res.json({ ...product, cache: state, instance: instanceId });
  });

  router.post(CATALOG_PATHS.page, requireUser('edit products'), async (req, res) => {
    const id = parseProductId(String(req.params.id));
    await catalog.edit(id, parseProductEdit(req.body));
    res.redirect(303, `/products/${id}?saved=1`);
  });

  return router;
}
