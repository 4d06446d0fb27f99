import type { Logger } from '../log.ts';
import type { CacheStore } from './cache-store.ts';
import type { CatalogMetrics } from './metrics.ts';

export type CacheState = 'hit' | 'miss' | 'stale';

export type CacheOptions = {
  /** The cache Redis or memcached nodes (never the session Redis: an evicting policy there would log users out). */
  store: CacheStore;
  prefix: string;
  /** How long a value counts as fresh, plus up to `jitter` of it at random so keys loaded together expire apart. */
  ttlS: number;
  jitter: number;
  /** How long "no such product" is remembered: short, so a product created meanwhile shows up soon. */
  notFoundTtlS: number;
  /** How long past freshness a value is kept, to be served (flagged stale) while it is refreshed or the database is away. */
  graceS: number;
  /** false: every read goes to the database, as without a cache (CACHE_ENABLED=false: for comparison, or in need). */
  enabled: boolean;
  metrics: Pick<CatalogMetrics, 'cacheRequest'>;
  log: Logger;
};

/** What is stored under a key: the value (null for "not found"), its version, and when it stops being fresh. */
type Entry<T> = { v: number; fresh: number; d: T | null };

/**
 * Cache-aside over a cache store (the cache Redis, or memcached nodes: cache-store.ts), with versioned write-through (see
 * docs/decisions/no-caching-library.md for why not a caching library). Per instance, concurrent reads of one key share one database
 * load (single flight); a stale value is served at once while one background load refreshes it; the cache being
 * away or slow costs a request at most `timeoutMs`, then reads go to the database until it answers again.
 */
export function createReadThroughCache<T>(options: CacheOptions) {
  const { store: cache, prefix, metrics, log } = options;
  const loads = new Map<string, Promise<T | null>>();
  const pendingWrites = new Map<string, { value: T; version: number; until: number }>();
  let retryTimer: NodeJS.Timeout | undefined;

  const available = (key: string) => cache.available(prefix + key);

  function encode(value: T | null, version: number): { json: string; ttlMs: number } {
    const freshMs = value === null ? options.notFoundTtlS * 1000 : options.ttlS * 1000 * (1 + Math.random() * options.jitter);
    const ttlMs = Math.round(freshMs + (value === null ? 0 : options.graceS * 1000));
    const entry: Entry<T> = { v: version, fresh: Date.now() + Math.round(freshMs), d: value };
    return { json: JSON.stringify(entry), ttlMs };
  }

  async function store(key: string, value: T | null, version: number): Promise<boolean> {
    const { json, ttlMs } = encode(value, version);
    return cache.setIfNotOlder(prefix + key, json, version, ttlMs);
  }

  /** One database load per key at a time on this instance; the result is stored in the background. */
  function load(key: string, loader: () => Promise<T | null>, versionOf: (value: T) => number): Promise<T | null> {
    const running = loads.get(key);
    if (running) return running;
    const loading = loader();
    loads.set(key, loading);
    // The key stays "loading" until the store has landed, so a read that missed just before it joins this load
    // instead of starting a second one. Nobody waits for the store itself.
    loading
      .then((value) => (available(key) ? store(key, value, value === null ? 0 : versionOf(value)) : false))
      .catch(() => {})
      .finally(() => loads.delete(key));
    return loading;
  }

  async function read(key: string): Promise<Entry<T> | null> {
    const raw = await cache.get(prefix + key);
    if (raw === null) return null;
    try {
      return JSON.parse(raw) as Entry<T>;
    } catch {
      return null;
    }
  }

  function retryPendingWrites() {
    retryTimer = undefined;
    for (const [key, { value, version, until }] of pendingWrites) {
      if (Date.now() > until) pendingWrites.delete(key);
      else if (available(key)) {
        store(key, value, version).then(
          () => pendingWrites.get(key)?.version === version && pendingWrites.delete(key),
          () => {},
        );
      }
    }
    if (pendingWrites.size > 0) retryTimer = setTimeout(retryPendingWrites, 500).unref();
  }

  return {
    async get(
      key: string,
      loader: () => Promise<T | null>,
      versionOf: (value: T) => number,
    ): Promise<{ value: T | null; state: CacheState }> {
      let entry: Entry<T> | null = null;
      if (!options.enabled) {
        metrics.cacheRequest('miss');
        return { value: await loader(), state: 'miss' };
      }
      if (!available(key)) {
        metrics.cacheRequest('error');
        return { value: await load(key, loader, versionOf), state: 'miss' };
      }
      try {
        entry = await read(key);
      } catch {
        metrics.cacheRequest('error');
        return { value: await load(key, loader, versionOf), state: 'miss' };
      }
      if (entry && Date.now() < entry.fresh) {
        metrics.cacheRequest('hit');
        return { value: entry.d, state: 'hit' };
      }
      if (entry) {
        metrics.cacheRequest('stale');
        load(key, loader, versionOf).catch((err: Error) =>
          log.debug({ key, reason: err.message }, 'refresh failed; serving stale'),
        );
        return { value: entry.d, state: 'stale' };
      }
      metrics.cacheRequest('miss');
      return { value: await load(key, loader, versionOf), state: 'miss' };
    },

    /**
     * Write-through after the database committed: every instance reads the new value from the next request on.
     * If the cache is away, the write is retried in the background until it lands or the old value would have
     * gone stale anyway (`ttlS`), so a cache outage cannot pin an edited product to its old value.
     */
    async set(key: string, value: T, version: number): Promise<boolean> {
      if (!options.enabled) return true;
      try {
        if (!available(key)) throw new Error('cache unavailable');
        await store(key, value, version);
        return true;
      } catch {
        pendingWrites.set(key, { value, version, until: Date.now() + options.ttlS * 1000 * (1 + options.jitter) });
        retryTimer ??= setTimeout(retryPendingWrites, 500).unref();
        return false;
      }
    },

    /** Best effort, for when the new value cannot be written: the next read loads it from the database. */
    async invalidate(key: string): Promise<void> {
      await cache.delete(prefix + key).catch(() => {});
    },

    close() {
      clearTimeout(retryTimer);
      pendingWrites.clear();
    },
  };
}
