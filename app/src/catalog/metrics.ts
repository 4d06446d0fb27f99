// What the catalogue counts, as a small interface: the Prometheus registry (prom-client, app/src/metrics.ts) backs it
// in the server with `cache_requests_total{result}` and `db_queries_total`; tests use the in-memory one below.

export type CacheResult = 'hit' | 'miss' | 'stale' | 'error';

export type CatalogMetrics = {
  /** One product read answered from the cache (`hit`, `stale`), from the database (`miss`), or with the cache away (`error`). */
  cacheRequest(result: CacheResult): void;
  /** One query sent to PostgreSQL. */
  dbQuery(): void;
};

export function createInMemoryCatalogMetrics() {
  const cacheRequests: Record<CacheResult, number> = { hit: 0, miss: 0, stale: 0, error: 0 };
  let dbQueries = 0;
  return {
    cacheRequest: (result: CacheResult) => void cacheRequests[result]++,
    dbQuery: () => void dbQueries++,
    get cacheRequests(): Readonly<Record<CacheResult, number>> {
      return { ...cacheRequests };
    },
    get dbQueries() {
      return dbQueries;
    },
  } satisfies CatalogMetrics & Record<string, unknown>;
}
