import type { createCsrf } from '../csrf.ts';
import type { DbPool } from '../db.ts';
import type { Logger } from '../log.ts';
import type { Views } from '../views.ts';
import type { CacheStore } from './cache-store.ts';
import { createReadThroughCache } from './cache.ts';
import { createCatalog } from './catalog.ts';
import type { CatalogConfig } from './config.ts';
import type { CatalogMetrics } from './metrics.ts';
import { createProductRepository, type ProductPage } from './repository.ts';
import { createCatalogRouter } from './routes.ts';

export type CatalogDeps = {
  config: CatalogConfig;
  db: DbPool;
  /** The cache (cache-client.ts openCache), opened and closed by whoever passes it (server.ts or a test). */
  cache: CacheStore;
  metrics: CatalogMetrics;
};

/** Everything the catalogue adds to an app: its router, and a close() for its timers (not for db or the cache). */
export function createCatalogModule(
  { config, db, cache: store, metrics }: CatalogDeps,
  { views, csrf, log, instanceId }: { views: Views; csrf: ReturnType<typeof createCsrf>; log: Logger; instanceId: string },
) {
  const cache = createReadThroughCache<ProductPage>({ ...config.cache, store, metrics, log });
  const catalog = createCatalog({ repository: createProductRepository({ db, metrics }), cache, log });
  return { router: createCatalogRouter({ catalog, views, csrf, instanceId }), close: () => cache.close() };
}
