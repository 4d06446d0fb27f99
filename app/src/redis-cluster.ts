import { createCluster } from 'redis';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { tlsOptions, trustOf } from './redis.ts';
import { type SessionRedis, sessionRedisOver } from './session-redis.ts';

/**
 * The app's session Redis on a Redis Cluster (REDIS_CLUSTER_NODES): node-redis's cluster client, discovering the
 * nodes from the seeds and following slot moves (MOVED, ASK) and failovers by itself, with the same fail-fast settings
 * as the single-node client (redis.ts). Every command the app sends names its keys, and every multi-key script keeps
 * one user's keys in one slot (hash tags: session-index.ts), so the same code runs on both.
 *
 * Commands go to primaries only: a replica may still hold a session that was just logged out.
 */
export function createClusterSessionRedis(
  config: Pick<Config, 'redis' | 'instanceId'>,
  log: Logger,
  trust = trustOf(config),
): SessionRedis {
  const cluster = config.redis.cluster;
  if (!cluster) throw new Error('createClusterSessionRedis: config.redis.cluster is not set');
  const url = new URL(config.redis.url);
  const client = createCluster({
    rootNodes: cluster.nodes.map(({ host, port }) => ({ socket: { host, port } })),
    defaults: {
      username: decodeURIComponent(url.username) || undefined,
      password: decodeURIComponent(url.password) || undefined,
      name: config.instanceId,
      disableOfflineQueue: true,
      commandsQueueMaxLength: 1000,
      maintNotifications: 'disabled',
      socket: {
        connectTimeout: config.redis.commandTimeoutMs * 2,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 500) + Math.floor(Math.random() * 50),
        ...tlsOptions(config.redis.url, trust),
      },
    },
    // withDeadline() bounds every call, as for the single-node client (redis.ts): no per-command signal.
    commandOptions: { timeout: 0 },
    useReplicas: false,
    // While a node cannot be reached, ask the others for the topology every second (default: once after 5 s), so
    // the promoted replica is found soon after the cluster elects it (cluster.conf: cluster-node-timeout).
    topologyRefreshOnReconnectionAttemptStrategy: 1000,
  });
  let lastError = '';
  client.on('error', (err: Error) => {
    if (err.message !== lastError) log.warn({ reason: err.message }, 'redis cluster error');
    lastError = err.message;
  });
  // PING names no key: any node of the cluster answers it for readiness.
  const ping = () => client.sendCommand(undefined, true, ['PING']) as Promise<string>;
  // A write that must reach a replica goes to its slot's primary on that node's own connection, WAIT right behind it
  // (redis.ts, writeAndWait). Not the cluster client's `wait`: WAIT names no key, and node-redis's command table
  // (request_policy all_shards, response_policy agg_min) sends it to every primary, each WAITing for its own
  // connection's writes, so a replica down in any shard would refuse every user's logout.
  return sessionRedisOver(
    {
      eval: (script, options) => client.eval(script, options),
      set: (key, value, options) => client.set(key, value, options),
      del: (key) => client.del(key),
      incr: (key) => client.incr(key),
      decr: (key) => client.decr(key),
      expire: (key, seconds, mode) => client.expire(key, seconds, mode),
      ttl: (key) => client.ttl(key),
      wait: () => Promise.reject(new Error('WAIT on a cluster goes to the shard of the write it follows (writerOf)')),
      get isReady() {
        return client.isReady;
      },
      ping,
      connect: () => client.connect(),
      close: () => client.close(),
      destroy: () => client.destroy(),
      on: (event, listener) => client.on(event, listener),
    },
    {
      commandTimeoutMs: config.redis.commandTimeoutMs,
      wait: config.redis.waitForReplicas,
      writerOf: (key) => client.getNodeClientForKey(key),
    },
  );
}
