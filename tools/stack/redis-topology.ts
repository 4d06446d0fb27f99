import { join } from 'node:path';
import { waitFor } from '../lib/poll.ts';
import { redisUrl } from '../lib/redis.ts';
import { sentinelArgs, sentinelNodeArgs, singleNodeArgs } from '../lib/redis-server.ts';
import { primaryPortOf, roleOf, sentinelGroupReady, SENTINEL_NAME } from '../lib/sentinel.ts';
import { clusterPorts } from './redis-cluster-topology.ts';
import { createRedisOperations, noSentinelOperations } from './redis-operations.ts';
import { createStackRedisProcess, roleName, type TopologyOptions, wholeRedisActions } from './redis-process.ts';
import { StackRequestError } from './state.ts';

export const REDIS_MODES = ['sentinel', 'single', 'cluster'] as const;
export type RedisMode = (typeof REDIS_MODES)[number];

/** Sentinel i listens on the port of data node i plus this: 6390-6392 beside the nodes 6380-6382. */
export const SENTINEL_PORT_OFFSET = 10;

/** The address Sentinel i (from 0) connects from, with the `sentinelSources` option. */
export const sentinelSourceOf = (i: number) => `127.0.2.${i + 1}`;

type SentinelOrSingleOptions = TopologyOptions & {
  /** `cluster`: redis-cluster-topology.ts. */
  mode: Exclude<RedisMode, 'cluster'>;
};

/** The ports a topology listens on, for the stack's "is anything in the way" check. */
export const topologyPorts = (mode: RedisMode, port: number) =>
  mode === 'cluster'
    ? clusterPorts(port)
    : mode === 'single'
      ? [{ port, what: 'redis' }]
      : [
          ...[0, 1, 2].map((i) => ({ port: port + i, what: `redis-${i + 1}` })),
          ...[0, 1, 2].map((i) => ({ port: port + SENTINEL_PORT_OFFSET + i, what: `sentinel-${i + 1}` })),
        ];

/**
 * The session Redis of the local stack, as docker-compose.yml describes it: TLS only, the rendered ACL, and either
 * one node (`single`) or a primary, two replicas and three Sentinels (`sentinel`, the default) from the shipped
 * infra/redis files. Tests break it without knowing which node is primary: killPrimary() asks the Sentinels.
 */
export function createRedisTopology(options: SentinelOrSingleOptions) {
  const { mode, supervisor, redisServer, port, dir, aclFile, secrets, readyTimeoutMs } = options;
  const adminUrl = (nodePort: number) => redisUrl('admin', secrets.redisAdminPassword, nodePort, { tls: true });
  const process = (name: string, nodePort: number, args: (dir: string) => string[]) => {
    const processDir = join(dir, name);
    return createStackRedisProcess({
      supervisor,
      name,
      redisServer,
      args: () => args(processDir),
      port: nodePort,
      dir: processDir,
      secrets,
      readyTimeoutMs,
    });
  };
  const secretsDir = secrets.dir;
  const first = { host: '127.0.0.1', port };
  const nodes =
    mode === 'single'
      ? [process('redis', port, (dir) => singleNodeArgs({ secretsDir, dir, port, aclfile: aclFile }))]
      : [0, 1, 2].map((i) =>
          process(`redis-${i + 1}`, port + i, (dir) =>
            sentinelNodeArgs({ secretsDir, dir, port: port + i, aclfile: aclFile, ...(i > 0 ? { replicaOf: first } : {}) }),
          ),
        );
  const sentinels =
    mode === 'single'
      ? []
      : [0, 1, 2].map((i) => {
          const sentinelPort = port + SENTINEL_PORT_OFFSET + i;
          return process(`sentinel-${i + 1}`, sentinelPort, (dir) =>
            sentinelArgs({
              secretsDir,
              dir,
              port: sentinelPort,
              primary: first,
              ...(options.sentinelSources ? { source: sentinelSourceOf(i) } : {}),
            }),
          );
        });
  const sentinelUrls = () => sentinels.map((sentinel) => adminUrl(sentinel.port));

  /** The node that is primary now: the lone node, or the one the first answering Sentinel names. */
  async function primary() {
    if (mode === 'single') return nodes[0]!;
    for (const url of sentinelUrls()) {
      const primaryPort = await primaryPortOf(url).catch(() => undefined);
      const node = nodes.find((candidate) => candidate.port === primaryPort);
      if (node) return node;
    }
    throw new StackRequestError(409, 'no Sentinel names a primary');
  }

  // Whichever node the Sentinels name: after a failover in an earlier run, the configs they rewrote say which.
  const groupReady = async () => {
    const current = await primary().catch(() => undefined);
    return current !== undefined && sentinelGroupReady(sentinelUrls(), adminUrl(current.port), nodes.length - 1);
  };

  async function start() {
    for (const node of nodes) await node.start();
    for (const sentinel of sentinels) await sentinel.start();
    if (mode === 'sentinel') await waitFor('the Sentinel group', groupReady, { timeoutMs: readyTimeoutMs });
  }

  const operations =
    mode === 'sentinel'
      ? createRedisOperations({
          nodes,
          sentinels,
          primary,
          groupReady,
          caFile: secrets.redisCaFile,
          adminPasswordFile: secrets.redisAdminPasswordFile,
          readyTimeoutMs,
        })
      : noSentinelOperations();

  const status = () => ({
    mode,
    nodes: nodes.map((node) => node.status()),
    sentinels: sentinels.map((sentinel) => sentinel.status()),
  });

  /** status(), each node with its role as the node itself reports it (asked now, so it can take a moment). */
  async function describe() {
    const roles = await Promise.all(
      nodes.map((node) => (mode === 'single' ? 'primary' : roleOf(adminUrl(node.port)).then(roleName, () => 'unknown'))),
    );
    const described = status();
    return { ...described, nodes: described.nodes.map((node, i) => ({ ...node, role: roles[i] })) };
  }

  return {
    mode,
    /** The app's settings for this topology (passwords come as files, the URL carries the user only). */
    appEnv: (): NodeJS.ProcessEnv => ({
      REDIS_URL: mode === 'single' ? `rediss://app@127.0.0.1:${port}` : `rediss://app@${SENTINEL_NAME}`,
      REDIS_TLS_CA_FILE: secrets.redisCaFile,
      ...(mode === 'sentinel'
        ? {
            REDIS_SENTINELS: sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(','),
            REDIS_SENTINEL_PASSWORD_FILE: join(secretsDir, 'redis_sentinel_app_password'),
          }
        : {}),
    }),
    /** The admin user on the first node (the primary at start), and on every node by port. */
    adminUrl,
    start,
    async stop() {
      for (const sentinel of sentinels) await sentinel.stop();
      await Promise.all(nodes.map((node) => node.stop()));
    },
    status,
    describe,
    primary,
    // Every data node at once (a whole-Redis outage); the Sentinels stay, but are frozen with a frozen group.
    ...wholeRedisActions(nodes, status, sentinels),
    async killPrimary() {
      const node = await primary();
      await node.kill();
      return node.status();
    },
    pausePrimary: async () => (await primary()).pause(),
    /** One running replica, killed (the first the Sentinels do not name primary); 409 in single mode or with none. */
    async killReplica() {
      const current = mode === 'single' ? undefined : await primary();
      const replica = nodes.find((node) => current !== undefined && node !== current && node.isRunning());
      if (!replica) throw new StackRequestError(409, 'no running replica');
      await replica.kill();
      return replica.status();
    },
    /** A planned switchover (infra/redis/switchover.sh), and a restart of every process one at a time. */
    ...operations,
  };
}
