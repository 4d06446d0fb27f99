import { createServer } from 'node:http';
import { createApp } from './app.ts';
import { answerClientErrors, MAX_HEADER_BYTES } from './client-error.ts';
import { startMetricsServer } from './metrics-server.ts';
import { createMetrics } from './metrics.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger, type Logger } from './log.ts';
import { openCache } from './catalog/cache-client.ts';
import type { CatalogConfig } from './catalog/config.ts';
import { createDbPool } from './db.ts';
import { trustOf, withDeadline } from './redis.ts';
import { createSessionRedis, type SessionRedis } from './session-redis.ts';
import { createClusterSessionRedis } from './redis-cluster.ts';
import { createSentinelSessionRedis } from './redis-sentinel.ts';
import { createRedisTopology } from './routes/status.ts';
import { trackConnections } from './shutdown.ts';
import { createUserDirectory } from './users.ts';

// The only module with side effects: reads the config, opens Redis, listens, and shuts down on a signal.

async function main() {
  const config = loadConfigOrExit();
  const log = createLogger(config);
  if (config.developmentDefaults.length > 0) {
    log.warn({ variables: config.developmentDefaults }, 'using development defaults (refused when NODE_ENV=production)');
  }

  const redisTopology = createRedisTopology(config);
  // One for every Redis connection of the process (sessions, Sentinels, cache), read again on SIGHUP: a new CA is
  // rolled out without a restart (docs/operations.md, Rotating certificates).
  const trust = trustOf(config);
  const redis = config.redis.sentinel
    ? createSentinelSessionRedis(config, log, redisTopology.switched, trust)
    : config.redis.cluster
      ? createClusterSessionRedis(config, log, trust)
      : createSessionRedis(config, log, trust);
  const metrics = createMetrics({ instanceId: config.instanceId });
  metrics.watchRedis(redis, 'session');
  process.on('SIGHUP', () => {
    // Node's bundled CAs (no REDIS_TLS_CA_FILE) change only with Node itself: nothing to read, and nothing failed.
    if (config.redis.tlsCaFile === undefined) return log.info('SIGHUP: no REDIS_TLS_CA_FILE to read again');
    try {
      const { certificates } = trust.reload();
      log.info({ file: config.redis.tlsCaFile, certificates }, 'redis CA reloaded');
      metrics.redisCaReloaded(true);
    } catch (err) {
      log.error(
        { file: config.redis.tlsCaFile, reason: (err as Error).message },
        'redis CA not reloaded; the CA read before stays',
      );
      metrics.redisCaReloaded(false);
    }
  });

  // Signals are handled from here on, whatever has started yet: a stop while Redis is away still exits cleanly.
  let shuttingDown = false;
  let stop = async () => {};
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    await stop();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', (signal) => void shutdown(signal));
  process.on('SIGINT', (signal) => void shutdown(signal));

  // Not awaited: an instance started while Redis is away listens all the same, live (/healthz) but not ready
  // (/readyz 503, requests that need Redis 503 with Retry-After), and is ready once Redis answers.
  log.info(config.redis.sentinel ? { sentinels: config.redis.sentinel.nodes.length } : {}, 'connecting to redis');
  connectWhenPossible(redis, log, () => shuttingDown);
  const users = await createUserDirectory(config.demoUsers);
  const catalog = config.catalog && (await openCatalog(config.catalog));

  const app = createApp({
    config,
    redis,
    users,
    log,
    metrics,
    isShuttingDown: () => shuttingDown,
    redisTopology,
    ...(catalog ? { catalog } : {}),
  });
  const server = createServer(
    {
      // nginx forwards an HTTP/1.0 request without Host (its $http_host is empty) as HTTP/1.1 without Host, which
      // Node answers with an empty 400 by default: the app serves it like any other (the origin check refuses posts).
      requireHostHeader: false,
      // Longer than nginx's upstream keepalive_timeout, so nginx, not Node, closes idle connections: no reuse races.
      keepAliveTimeout: 65_000,
      headersTimeout: 66_000,
      maxHeaderSize: MAX_HEADER_BYTES,
    },
    app,
  );
  answerClientErrors(server, config.instanceId);
  const connections = trackConnections(server);
  server.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  log.info({ host: config.host, port: config.port, users: users.usernames.length }, 'listening');
  // Same bind address as the app: reachable where the app is, and never through the proxy.
  const metricsServer = await startMetricsServer({ registry: metrics.registry, host: config.host, port: config.metricsPort });
  log.info({ host: config.host, port: metricsServer.port }, 'metrics listening');

  stop = async () => {
    // Readiness is 503 from here on; load balancers that poll it (Kubernetes) need a moment to stop sending.
    if (config.shutdownDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
    await connections.close();
    // The last scrape is possible until here, so a draining instance's final counts are not lost.
    await metricsServer.close();
    await closeRedis(redis);
    if (catalog) {
      await catalog.connection.close();
      await withDeadline(catalog.db.end(), 1000).catch(() => undefined);
    }
  };
  // A signal that came while starting found nothing to stop yet: stop now.
  if (shuttingDown) await stop().then(() => process.exit(0));

  /**
   * The catalogue's PostgreSQL pool (connects on first use) and its own cache (the cache Redis or memcached nodes),
   * which may be away at start: the pages then come from the database, and the client connects when it can.
   */
  async function openCatalog(catalogConfig: CatalogConfig) {
    const db = createDbPool(catalogConfig.db, log.child({ component: 'postgres' }));
    const connection = openCache(config, catalogConfig.cache, log.child({ component: 'cache' }), trust);
    if (connection.redis) metrics.watchRedis(connection.redis, 'cache');
    return { config: catalogConfig, db, cache: connection.store, connection, metrics };
  }
}

/**
 * Connects, and keeps trying while Redis cannot be reached at start (once connected, the client reconnects by itself;
 * a first attempt that fails outright is retried here, backing off to 5 s), until the process stops.
 */
function connectWhenPossible(redis: SessionRedis, log: Logger, stopping: () => boolean, delayMs = 250): void {
  redis.connect().then(
    () => log.info('redis connected'),
    (err: Error) => {
      if (stopping()) return;
      log.warn({ reason: err.message, retryInMs: delayMs }, 'redis not reachable at start; retrying');
      setTimeout(() => connectWhenPossible(redis, log, stopping, Math.min(delayMs * 2, 5000)), delayMs).unref();
    },
  );
}

/** close() waits for replies to commands already sent, which a frozen Redis never sends: then destroy(). A client that
 * never connected has nothing to close either way. */
async function closeRedis(redis: SessionRedis): Promise<void> {
  try {
    await withDeadline(redis.close(), 1000);
  } catch {
    try {
      redis.destroy();
    } catch {
      // never connected: nothing to close
    }
  }
}

function loadConfigOrExit() {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}

await main();
