import type { TestContext } from 'node:test';
import type { DestinationStream } from 'pino';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { createSessionRedis } from '../../src/session-redis.ts';
import { createClusterSessionRedis } from '../../src/redis-cluster.ts';
import { createSentinelSessionRedis } from '../../src/redis-sentinel.ts';
import { createUserDirectory, type UserDirectory } from '../../src/users.ts';
import { sharedRedisServer, startRedisServer, type TestRedis } from './redis-server.ts';
import { DEMO_USERS } from './users.ts';

export type Instance = Awaited<ReturnType<typeof createInstance>>;

// Hashing the demo users costs ~100 ms of Argon2id per instance; the directory is immutable, so tests share it.
const directories = new Map<string, Promise<UserDirectory>>();

/**
 * One app object, as one of several instances would run it, connected to the test Redis as its `app` user.
 * `env` adds or overrides variables; `log` receives the JSON log lines (set LOG_LEVEL too). Closed at the test's end.
 */
export async function createInstance(
  t: Pick<TestContext, 'after'>,
  redis: Pick<TestRedis, 'url'> & { env?: Record<string, string> },
  env: Record<string, string> = {},
  log?: DestinationStream,
) {
  const config = loadConfig({
    NODE_ENV: 'test',
    INSTANCE_ID: 'app-test',
    REDIS_URL: redis.url,
    SESSION_SECRET: 'test-secret-that-is-at-least-32-characters',
    DEMO_USERS,
    LOG_LEVEL: 'silent',
    REDIS_COMMAND_TIMEOUT_MS: '300',
    ...redis.env,
    ...env,
  });
  const logger = createLogger(config, log);
  const client = config.redis.sentinel
    ? createSentinelSessionRedis(config, logger)
    : config.redis.cluster
      ? createClusterSessionRedis(config, logger)
      : createSessionRedis(config, logger);
  // Registered first, so it runs even when connect() fails; the server may already be gone, hence destroy(). Always,
  // not only when isOpen: a Sentinel client between primaries says it is not open, and its Sentinel connections would
  // go on reconnecting to Sentinels the test has stopped, keeping the test file's process alive.
  t.after(() => {
    try {
      client.destroy();
    } catch {
      // already closed
    }
  });
  await client.connect();
  const key = config.demoUsers.map((user) => `${user.username}:${user.password}`).join(',');
  if (!directories.has(key)) directories.set(key, createUserDirectory(config.demoUsers));
  const users = await directories.get(key)!;
  const app = createApp({ config, redis: client, users, log: logger });
  return { app, config, redis: client };
}

/**
 * Two instances, `app-a` and `app-b`, sharing one Redis: the deployment in miniature. The Redis is the test file's
 * shared one, emptied for this test (sharedRedisServer), unless `ownRedis` (a test that breaks it, or needs two).
 */
export async function startTwoInstances(
  t: Pick<TestContext, 'after'>,
  env: Record<string, string> = {},
  { ownRedis = false } = {},
) {
  const redis = await (ownRedis ? startRedisServer(t) : sharedRedisServer(t));
  const a = await createInstance(t, redis, { ...env, INSTANCE_ID: 'app-a' });
  const b = await createInstance(t, redis, { ...env, INSTANCE_ID: 'app-b' });
  return { redis, a, b };
}
