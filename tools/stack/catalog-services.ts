import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { memcachedAnswers, memcachedArgs, prepareMemcachedFiles } from '../lib/memcached-server.ts';
import { findExecutable } from '../lib/prereqs.ts';
import { cacheNodeArgs, renderAcl } from '../lib/redis-server.ts';
import type { Secrets } from '../lib/secrets.ts';
import { createPostgresProcess, PG_BIN } from './postgres-process.ts';
import { createRedisProcess, createStackRedisProcess } from './redis-process.ts';
import type { Supervisor } from './supervisor.ts';

export const CACHE_ENGINES = ['redis', 'memcached'] as const;
export type CacheEngine = (typeof CACHE_ENGINES)[number];

/** The catalogue's servers sit after the session Redis's first port: the cache (or memcached-1..3) and PostgreSQL. */
const CACHE_PORT_OFFSET = 20;
const MEMCACHED_NODES = 3;
const POSTGRES_PORT_OFFSET = 30;

const memcachedPorts = (redisPort: number) =>
  Array.from({ length: MEMCACHED_NODES }, (_, i) => redisPort + CACHE_PORT_OFFSET + 1 + i);

/** The ports the catalogue's servers listen on, for the stack's "is anything in the way" check. */
export const catalogPorts = (engine: CacheEngine, redisPort: number) => [
  ...(engine === 'memcached'
    ? memcachedPorts(redisPort).map((port, i) => ({ port, what: `memcached-${i + 1}` }))
    : [{ port: redisPort + CACHE_PORT_OFFSET, what: 'cache redis' }]),
  { port: redisPort + POSTGRES_PORT_OFFSET, what: 'postgres' },
];

type CatalogOptions = {
  supervisor: Supervisor;
  engine: CacheEngine;
  /** The session Redis's first port: the catalogue's ports follow it (catalogPorts). */
  redisPort: number;
  redisServer: string;
  /** Where the cache's data and ACL go (the stack's Redis dir), and the run dir PostgreSQL's cluster lives under. */
  redisDir: string;
  runDir: string;
  secrets: Secrets;
  readyTimeoutMs: number;
};

/**
 * The product catalogue's servers, as compose runs them: PostgreSQL, and in front of it the cache Redis (TLS, its
 * own ACL) or three memcached nodes (SASL and TLS). Missing programs are said before anything starts.
 */
export function createCatalogServices(options: CatalogOptions) {
  const { supervisor, engine, redisPort, redisServer, redisDir, secrets, readyTimeoutMs } = options;
  if (!existsSync(join(PG_BIN, 'postgres')))
    throw new Error(`PostgreSQL not found in ${PG_BIN}. Install it with:\n  sudo apt-get install -y postgresql`);
  const memcached = engine === 'memcached' ? findExecutable('memcached') : undefined;
  if (engine === 'memcached' && !memcached)
    throw new Error('memcached not found. Install it with:\n  sudo apt-get install -y memcached');

  // Written once, before the first node starts: rewriting them while another node reads them at its start fails it.
  let preparedFiles: ReturnType<typeof prepareMemcachedFiles> | undefined;
  const memcachedFiles = () => (preparedFiles ??= prepareMemcachedFiles(secrets.dir, join(redisDir, 'memcached')));
  const cacheNodes = memcached
    ? memcachedPorts(redisPort).map((port, i) =>
        createRedisProcess({
          supervisor,
          name: `memcached-${i + 1}`,
          redisServer: memcached,
          args: () => memcachedArgs({ ...memcachedFiles(), port }),
          port,
          dir: redisDir,
          url: `memcached://cache@127.0.0.1:${port}`,
          adminPasswordFile: secrets.redisCachePasswordFile,
          readyTimeoutMs,
          isReady: () => memcachedAnswers(port, readFileSync(secrets.redisCaFile, 'utf8')),
        }),
      )
    : [];

  const cacheAclFile = join(redisDir, 'cache.acl');
  const cachePort = redisPort + CACHE_PORT_OFFSET;
  const cacheDir = join(redisDir, 'cache');
  if (engine === 'redis') renderAcl(secrets.dir, cacheAclFile, redisServer, 'cache');
  const cache =
    engine === 'redis'
      ? createStackRedisProcess({
          supervisor,
          name: 'cache',
          redisServer,
          args: () => cacheNodeArgs({ secretsDir: secrets.dir, dir: cacheDir, port: cachePort, aclfile: cacheAclFile }),
          port: cachePort,
          dir: cacheDir,
          secrets,
          readyTimeoutMs,
        })
      : undefined;

  const postgres = createPostgresProcess({
    supervisor,
    port: redisPort + POSTGRES_PORT_OFFSET,
    dir: join(options.runDir, 'postgres'),
    secrets,
    readyTimeoutMs,
  });

  return {
    /** The cache Redis (engine `redis`), or undefined. */
    cache,
    /** memcached-1..3 (engine `memcached`), or none. */
    cacheNodes,
    postgres,
    /** The app's catalogue settings: users in the URLs, passwords in files, as compose does. */
    appEnv: (): NodeJS.ProcessEnv => ({
      DATABASE_URL: postgres.appUrl,
      DATABASE_PASSWORD_FILE: secrets.databaseAppPasswordFile,
      ...(cache
        ? {
            CACHE_REDIS_URL: `rediss://cache@127.0.0.1:${cache.port}`,
            CACHE_REDIS_PASSWORD_FILE: secrets.redisCachePasswordFile,
          }
        : {
            CACHE_ENGINE: 'memcached',
            CACHE_MEMCACHED_SERVERS: cacheNodes.map((node) => `127.0.0.1:${node.port}`).join(','),
            CACHE_MEMCACHED_PASSWORD_FILE: secrets.redisCachePasswordFile,
            CACHE_MEMCACHED_TLS_CA_FILE: secrets.redisCaFile,
          }),
    }),
    /** The cache, then PostgreSQL; `log` says where. */
    async start(log: (message: string) => void, signal?: AbortSignal) {
      log(
        cache
          ? `starting the cache redis on 127.0.0.1:${cache.port} and postgres on 127.0.0.1:${postgres.port}`
          : `starting memcached on 127.0.0.1:${cacheNodes.map((node) => node.port).join(', ')} and postgres on 127.0.0.1:${postgres.port}`,
      );
      await cache?.start();
      await Promise.all(cacheNodes.map((node) => node.start()));
      signal?.throwIfAborted();
      await postgres.start();
    },
    async stop() {
      await postgres.stop();
      await cache?.stop();
      await Promise.all(cacheNodes.map((node) => node.stop()));
    },
    status: () => ({
      ...(cache ? { cache: cache.status() } : {}),
      ...(cacheNodes.length > 0 ? { cacheNodes: cacheNodes.map((node) => node.status()) } : {}),
      postgres: postgres.status(),
    }),
  };
}

export type CatalogServices = ReturnType<typeof createCatalogServices>;
