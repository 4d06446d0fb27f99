import type { TestContext } from 'node:test';
import { createApp } from '../../src/app.ts';
import { loadCatalogConfig } from '../../src/catalog/config.ts';
import { createInMemoryCatalogMetrics } from '../../src/catalog/metrics.ts';
import { loadConfig } from '../../src/config.ts';
import { createDbPool } from '../../src/db.ts';
import { createLogger } from '../../src/log.ts';
import { openCache } from '../../src/catalog/cache-client.ts';
import { createSessionRedis } from '../../src/session-redis.ts';
import { createUserDirectory } from '../../src/users.ts';
import { ALICE, BOB } from './users.ts';
import type { TestPostgres } from './postgres-server.ts';
import { waitFor } from './wait.ts';

/** `cache`: the cache Redis; absent, `env` says where the cache is (CACHE_ENGINE=memcached and its nodes). */
type Servers = { postgres: TestPostgres; sessionRedisUrl: string; cache?: { url: string; password: string } };

/**
 * One app object with the catalogue, as one of several instances runs it: its own pool, session client and cache
 * client (closed when the test ends), its own counters.
 */
export async function createCatalogInstance(
  t: TestContext,
  servers: Servers,
  instanceId: string,
  env: Record<string, string> = {},
) {
  const base = {
    NODE_ENV: 'test',
    INSTANCE_ID: instanceId,
    REDIS_URL: servers.sessionRedisUrl,
    SESSION_SECRET: 'test-secret-that-is-at-least-32-characters',
    DEMO_USERS: `${ALICE.username}:${ALICE.password},${BOB.username}:${BOB.password}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    REDIS_COMMAND_TIMEOUT_MS: '300',
    DATABASE_URL: servers.postgres.appUrl,
    DATABASE_PASSWORD: servers.postgres.appPassword,
    ...(servers.cache && { CACHE_REDIS_URL: servers.cache.url, CACHE_REDIS_PASSWORD: servers.cache.password }),
    ...env,
  };
  const config = loadConfig(base);
  const catalogConfig = loadCatalogConfig(base);
  const log = createLogger(config);
  const redis = createSessionRedis(config, log);
  const cache = openCache(config, catalogConfig.cache, log);
  const db = createDbPool(catalogConfig.db, log);
  t.after(async () => {
    await redis.close().catch(() => redis.destroy());
    cache.redis?.destroy();
    cache.memcached?.close();
    await db.end();
  });
  await redis.connect();
  if (cache.redis) await waitFor(async () => cache.redis!.isReady, { what: 'the cache Redis client', timeoutMs: 5000 });
  const metrics = createInMemoryCatalogMetrics();
  const users = await createUserDirectory(config.demoUsers);
  const app = createApp({ config, redis, users, log, catalog: { config: catalogConfig, db, cache: cache.store, metrics } });
  // `close` makes it usable wherever an Instance from instance.ts is (createBrowser); teardown is t.after above.
  return { app, config, catalogConfig, redis, cache, db, metrics, instanceId, close: async () => {} };
}
