import { join } from 'node:path';
import { waitFor } from '../lib/poll.ts';
import { redisUrl, withRedis } from '../lib/redis.ts';
import { clusterNodeArgs, clusterReady, createCluster } from '../lib/redis-server.ts';
import { roleOf } from '../lib/sentinel.ts';
import { noSentinelOperations } from './redis-operations.ts';
import { createStackRedisProcess, roleName, type TopologyOptions, wholeRedisActions } from './redis-process.ts';
import { StackRequestError } from './state.ts';

/** Three primaries and a replica each, on the ports port..port+5. */
export const CLUSTER_NODES = 6;
/** Redis Cluster's bus listens on each node's port plus this (fixed by Redis). */
const BUS_PORT_OFFSET = 10_000;

/** Every port a cluster on `port` listens on: the nodes' and their cluster bus's. */
export const clusterPorts = (port: number) =>
  Array.from({ length: CLUSTER_NODES }, (_, i) => [
    { port: port + i, what: `cluster-${i + 1}` },
    { port: port + i + BUS_PORT_OFFSET, what: `cluster-${i + 1} cluster bus` },
  ]).flat();

/**
 * The session Redis as a Redis Cluster (`--redis cluster`): six nodes from the shipped redis.conf, tls.conf and
 * cluster.conf, joined once by `redis-cli --cluster create` (a restart on the same run dir keeps the nodes' own
 * nodes.conf, so the cluster comes back as it was, failovers included). The same interface as redis-topology.ts:
 * "the primary" is the node owning slot 0, as the cluster says now.
 */
export function createRedisClusterTopology(options: TopologyOptions) {
  const { supervisor, redisServer, port, dir, aclFile, secrets, readyTimeoutMs } = options;
  const adminUrl = (nodePort: number) => redisUrl('admin', secrets.redisAdminPassword, nodePort, { tls: true });
  const nodes = Array.from({ length: CLUSTER_NODES }, (_, i) => {
    // Named as compose's cluster profile names them.
    const name = `cluster-${i + 1}`;
    const nodePort = port + i;
    const nodeDir = join(dir, name);
    return createStackRedisProcess({
      supervisor,
      name,
      redisServer,
      args: () => clusterNodeArgs({ secretsDir: secrets.dir, dir: nodeDir, port: nodePort, aclfile: aclFile }),
      port: nodePort,
      dir: nodeDir,
      secrets,
      readyTimeoutMs,
    });
  });

  /** Asks the first running node that answers. */
  async function ask<T>(question: (client: Parameters<Parameters<typeof withRedis>[1]>[0]) => Promise<T>) {
    for (const node of nodes.filter((candidate) => candidate.status().state === 'ready'))
      try {
        return await withRedis(adminUrl(node.port), question);
      } catch {
        // the next node may answer
      }
    throw new StackRequestError(409, 'no cluster node answers');
  }

  const ready = () =>
    clusterReady(
      nodes.map((node) => adminUrl(node.port)),
      nodes.length / 2,
    );

  async function start() {
    await Promise.all(nodes.map((node) => node.start()));
    const assigned = /cluster_slots_assigned:(\d+)/.exec(await ask((client) => client.clusterInfo()))?.[1];
    if (assigned === '0')
      await createCluster({
        secretsDir: secrets.dir,
        ports: nodes.map((node) => node.port),
        adminPassword: secrets.redisAdminPassword,
      });
    await waitFor('the Redis Cluster, its replicas in sync', ready, { timeoutMs: readyTimeoutMs });
  }

  /** The node owning slot 0 now, and its slot range. */
  async function primaryWithSlots() {
    const ranges = await ask((client) => client.clusterSlots());
    const range = ranges.find(({ from }) => from === 0);
    const node = nodes.find((candidate) => candidate.port === range?.master.port);
    if (!range || !node) throw new StackRequestError(409, 'no node owns slot 0');
    return { node, slots: `${range.from}-${range.to}` };
  }

  const status = () => ({ mode: 'cluster' as const, nodes: nodes.map((node) => node.status()), sentinels: [] });

  return {
    mode: 'cluster' as const,
    /** REDIS_URL's host is ignored with seed nodes (config.ts); its scheme and user apply to every node. */
    appEnv: (): NodeJS.ProcessEnv => ({
      REDIS_URL: 'rediss://app@cluster',
      REDIS_CLUSTER_NODES: nodes.map((node) => `127.0.0.1:${node.port}`).join(','),
      REDIS_TLS_CA_FILE: secrets.redisCaFile,
    }),
    adminUrl,
    start,
    stop: () => Promise.all(nodes.map((node) => node.stop())).then(() => undefined),
    status,
    /** status(), each node with its role (primary/replica) as it reports it itself. */
    async describe() {
      const roles = await Promise.all(nodes.map((node) => roleOf(adminUrl(node.port)).then(roleName, () => 'unknown')));
      const described = status();
      return { ...described, nodes: described.nodes.map((node, i) => ({ ...node, role: roles[i] })) };
    },
    primary: async () => (await primaryWithSlots()).node,
    ...wholeRedisActions(nodes, status),
    /** Kills the primary owning slot 0 (its replica takes over after cluster-node-timeout) and says which. */
    async killPrimary() {
      const { node, slots } = await primaryWithSlots();
      await node.kill();
      return { ...node.status(), slots };
    },
    pausePrimary: async () => (await primaryWithSlots()).node.pause(),
    killReplica: (): Promise<never> =>
      Promise.reject(new StackRequestError(409, 'a Redis Cluster has no single replica to kill here')),
    ...noSentinelOperations(),
  };
}
