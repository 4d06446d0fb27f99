import { readFileSync } from 'node:fs';
import { createCluster } from 'redis';
import { connectAdmin, redisUrl } from '../lib/redis.ts';
import { readSecret, type Endpoints } from './endpoints.ts';
import { primaryOf } from './primary.ts';
import type { RestoreInto } from './rdb-source.ts';

/**
 * The session Redis a restore writes into, as `admin`, whatever its topology: the primary the Sentinels name (or the
 * lone node), or every primary of a cluster (each key to its slot's primary, through node-redis's cluster client).
 */
export async function connectRestoreTarget(redis: Endpoints['redis']) {
  const password = readSecret(redis.adminPasswordFile);
  const tls = Boolean(redis.caFile);
  if (!redis.cluster) {
    const primary = await primaryOf(redis);
    const admin = await connectAdmin(redisUrl('admin', password, primary.port, { host: primary.host, tls }));
    const replicas = redis.nodes.length - 1;
    return {
      keys: () => admin.dbSize(),
      flushAll: async () => void (await admin.flushAll()),
      restoreInto: ((_key, args) => admin.sendCommand(args)) as RestoreInto,
      /** Until the replicas hold it too (or 10 s). */
      waitForReplicas: async () => void (replicas > 0 && (await admin.sendCommand(['WAIT', String(replicas), '10000']))),
      close: () => admin.destroy(),
    };
  }
  const cluster = createCluster({
    rootNodes: redis.nodes.map((node) => ({ socket: { host: node.host, port: node.port } })),
    defaults: {
      username: 'admin',
      password,
      socket: { reconnectStrategy: false, connectTimeout: 2_000, ...(tls ? { tls: true, ca: readFileSync(redis.caFile!) } : {}) },
      maintNotifications: 'disabled',
    },
  });
  cluster.on('error', () => {
    // Surfaces as a rejected command; the restore then fails with that error.
  });
  await cluster.connect();
  const primaries = () => Promise.all(cluster.masters.map((node) => cluster.nodeClient(node)));
  return {
    keys: async () => (await Promise.all((await primaries()).map((client) => client.dbSize()))).reduce((a, b) => a + b, 0),
    flushAll: async () => void (await Promise.all((await primaries()).map((client) => client.flushAll()))),
    restoreInto: ((key, args) => cluster.sendCommand(key, false, args)) as RestoreInto,
    /** Each shard's primary until its replica holds it too (or 10 s). */
    waitForReplicas: async () =>
      void (await Promise.all((await primaries()).map((client) => client.sendCommand(['WAIT', '1', '10000'])))),
    close: () => cluster.destroy(),
  };
}
