import type { Logger } from '../log.ts';
import { createRedisConnection, trustOf, withDeadline, type RedisConnection } from '../redis.ts';
import type { RedisTrust } from '../redis-trust.ts';
import type { Config } from '../config.ts';
import { createMemcachedCacheStore, createRedisCacheStore, type CacheStore } from './cache-store.ts';
import type { CatalogConfig } from './config.ts';
import { createMemcachedClient, type MemcachedClient } from './memcached.ts';

/** One attempt to reach the cache Redis (TCP and TLS); the client tries again by itself after it. */
const CACHE_CONNECT_TIMEOUT_MS = 1000;

export type CacheConnection = {
  store: CacheStore;
  /** The cache Redis's client (CACHE_ENGINE=redis), for its metrics; undefined on memcached. */
  redis?: RedisConnection;
  memcached?: MemcachedClient;
  close(): Promise<void>;
};

/**
 * Opens the catalogue's cache, on the engine CACHE_ENGINE names. It may be away at start: pages then come from the
 * database, and the client connects when it can. Whoever opens it closes it (server.ts, or a test).
 */
export function openCache(
  config: Pick<Config, 'instanceId' | 'redis'>,
  cache: CatalogConfig['cache'],
  log: Logger,
  /** The process's Redis trust (server.ts), so a reload reaches the cache's connections too. */
  trust?: RedisTrust,
): CacheConnection {
  const options = { timeoutMs: cache.timeoutMs, bypassMs: cache.bypassMs, log };
  if (cache.engine === 'memcached') {
    const memcached = createMemcachedClient({ ...cache.memcached, ...options });
    return { store: createMemcachedCacheStore(memcached), memcached, close: async () => memcached.close() };
  }
  // Its own settings: its URL, and a connection attempt bounded on its own (in the background: a page never waits for
  // it, it is served from the database meanwhile); each command's deadline is CACHE_TIMEOUT_MS (cache-store.ts).
  const redis = createRedisConnection(
    { url: cache.url, name: config.instanceId, connectTimeoutMs: CACHE_CONNECT_TIMEOUT_MS, trust: trust ?? trustOf(config) },
    log,
  );
  redis.connect().catch(() => undefined);
  return {
    store: createRedisCacheStore(redis, options),
    redis,
    close: async () => void (await withDeadline(redis.close(), 1000).catch(() => redis.destroy())),
  };
}
