import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createClient, createCluster as createClusterClient } from 'redis';
import { redisUrl, trustRedisCa } from '../../../tools/lib/redis.ts';
import { clusterNodeArgs, clusterReady, createCluster, renderAcl } from '../../../tools/lib/redis-server.ts';
import { ensureSecrets } from '../../../tools/lib/secrets.ts';
import type { TestRedis } from './redis-server.ts';
import { freePortBase } from '../../../tools/lib/ports.ts';
import type { RedisProcess } from '../../../tools/stack/redis-process.ts';
import { startTestRedisProcess } from './redis-process.ts';
import { waitFor } from './wait.ts';

export type TestCluster = Awaited<ReturnType<typeof startRedisCluster>>;

const NODE_OFFSETS = [0, 1, 2, 3, 4, 5];

/**
 * A real Redis Cluster from the shipped files: six nodes (three primaries, three replicas) on free loopback ports,
 * TLS, the rendered ACL (`cluster` role), joined by `redis-cli --cluster create`. `env` points an app instance at it.
 * Nodes are addressed by port; `primaryOf(key)` says which node serves a key now. Killed and removed at the test's end.
 */
export async function startRedisCluster(t: Pick<TestContext, 'after'>) {
  const root = mkdtempSync(join(tmpdir(), 'cluster-test-'));
  const secrets = ensureSecrets(join(root, 'secrets'));
  const aclfile = join(root, 'users.acl');
  renderAcl(secrets.dir, aclfile, 'redis-server', 'cluster');
  // Six ports and their cluster buses (port + 10000), all free and all below the kernel's ephemeral range (32768..),
  // where an outgoing connection could take one between this check and the node's bind.
  const base = await freePortBase([...NODE_OFFSETS, ...NODE_OFFSETS.map((offset) => offset + 10_000)], 12_000, 22_700);
  const ports = NODE_OFFSETS.map((offset) => base + offset);
  const admins = new Map<number, ReturnType<typeof adminClient>>();
  function adminClient(port: number) {
    const client = createClient({
      username: 'admin',
      password: secrets.redisAdminPassword,
      disableOfflineQueue: true,
      maintNotifications: 'disabled',
      socket: { host: '127.0.0.1', port, tls: true, ca: readFileSync(secrets.redisCaFile), reconnectStrategy: 50 },
    });
    client.on('error', () => {});
    return client;
  }
  const adminOf = (port: number) => admins.get(port) ?? admins.set(port, adminClient(port)).get(port)!;
  const admin = async (port: number) => {
    const client = adminOf(port);
    if (!client.isOpen) await client.connect();
    return client;
  };

  const nodes = new Map<number, RedisProcess>();
  async function start(port: number) {
    const node = nodes.get(port);
    if (node) return void (await node.start());
    const dir = join(root, String(port));
    const log = process.env.CLUSTER_LOG ? ['--logfile', join(dir, 'log')] : [];
    const args = () => [...clusterNodeArgs({ secretsDir: secrets.dir, dir, port, aclfile }), ...log];
    nodes.set(port, await startTestRedisProcess(t, { name: `cluster-${port}`, port, dir, args, admin: adminOf(port) }));
  }
  const kill = async (port: number) => void (await nodes.get(port)?.kill());
  t.after(() => (process.env.CLUSTER_LOG ? undefined : rmSync(root, { recursive: true, force: true })));

  for (const port of ports) await start(port);
  await createCluster({ secretsDir: secrets.dir, ports, adminPassword: secrets.redisAdminPassword });
  trustRedisCa(secrets.redisCaFile);
  const adminUrls = ports.map((port) => redisUrl('admin', secrets.redisAdminPassword, port, { tls: true }));
  const allReady = () =>
    waitFor(() => clusterReady(adminUrls, 3), { what: 'the cluster, its replicas in sync', timeoutMs: 20_000, intervalMs: 100 });
  await allReady();

  /** The node serving `key` now, as the cluster itself says (CLUSTER KEYSLOT, then the slot's owner in CLUSTER SLOTS). */
  async function primaryOf(key: string): Promise<number> {
    const client = await admin(ports[0]!);
    const slot = await client.clusterKeySlot(key);
    const ranges = await client.clusterSlots();
    const range = ranges.find(({ from, to }) => slot >= from && slot <= to)!;
    return range.master.port;
  }

  /** The replica of the shard serving `key` now (one per primary), as its primary says (another node may not know yet). */
  async function replicaOf(key: string): Promise<number> {
    const replication = await (await admin(await primaryOf(key))).info('replication');
    return Number(/^slave0:.*\bport=(\d+)/m.exec(replication)![1]);
  }

  /** Whether the node on `port` holds `key`, read on that node itself (READONLY: a replica answers instead of MOVED). */
  async function holds(port: number, key: string): Promise<boolean> {
    const client = await admin(port);
    await client.sendCommand(['READONLY']);
    return (await client.exists(key)) === 1;
  }

  /** The nodes that are primaries now (a failover changes them), as the cluster itself says. */
  async function primaries(): Promise<number[]> {
    const ranges = await (await admin(ports[0]!)).clusterSlots();
    return [...new Set(ranges.map(({ master }) => master.port))];
  }

  return {
    ports,
    secrets,
    primaries,
    /** For createInstance: the app's user, the nodes as seeds, TLS verified by the cluster's CA. */
    url: `rediss://app:${secrets.redisAppPassword}@cluster`,
    env: {
      REDIS_CLUSTER_NODES: ports.map((port) => `127.0.0.1:${port}`).join(','),
      REDIS_TLS_CA_FILE: secrets.redisCaFile,
      // A replica's WAIT answer within a second, not the 100 ms default: six TLS nodes beside the test on two cores
      // sometimes took longer (a login or a logout answered 503 in a CI run). Tests of the timeout set their own.
      REDIS_WAIT_TIMEOUT_MS: '1000',
    },
    admin,
    primaryOf,
    replicaOf,
    holds,
    kill,
    start,
    /** Waits until every slot is served and every replica in sync. */
    ready: allReady,
    // A node already gone (killed, or stopped at the test's end) is left alone, as a signal to a dead process would be.
    pause: (port: number) => void (nodes.get(port)?.isRunning() && nodes.get(port)!.pause()),
    resume: (port: number) => void (nodes.get(port)?.isRunning() && nodes.get(port)!.resume()),
  };
}

/**
 * The cluster in the shape of one test Redis (startRedisServer), for running the app's Redis tests on a cluster
 * (TEST_REDIS=cluster, `npm run test:app:cluster`). `admin` is node-redis's cluster client as the operators' user: a
 * command that names a key goes to the key's primary; the few whole-database commands the tests use (KEYS, DBSIZE,
 * INFO, CONFIG, FLUSHALL, DEL of several keys) are sent to every primary and their answers combined. kill/start/pause/resume
 * act on every node: the whole Redis away, as for one node.
 */
export async function startRedisClusterAsServer(t: Pick<TestContext, 'after'>): Promise<TestRedis> {
  const cluster = await startRedisCluster(t);
  const client = createClusterClient({
    rootNodes: cluster.ports.map((port) => ({ socket: { host: '127.0.0.1', port } })),
    defaults: {
      username: 'admin',
      password: cluster.secrets.redisAdminPassword,
      disableOfflineQueue: true,
      maintNotifications: 'disabled',
      socket: { tls: true, ca: readFileSync(cluster.secrets.redisCaFile), reconnectStrategy: 50 },
    },
  });
  client.on('error', () => {});
  await client.connect();
  t.after(() => (client.isOpen ? client.destroy() : undefined));

  const onPrimaries = async <T>(command: (node: Awaited<ReturnType<typeof cluster.admin>>) => Promise<T>) =>
    Promise.all((await cluster.primaries()).map(async (port) => command(await cluster.admin(port))));
  const wholeDatabase: Record<string, unknown> = {
    keys: async (pattern: string) => (await onPrimaries((node) => node.keys(pattern))).flat(),
    dbSize: async () => (await onPrimaries((node) => node.dbSize())).reduce((sum, size) => sum + size, 0),
    info: async (section?: string) => combineInfo(await onPrimaries((node) => node.info(section))),
    configResetStat: async () => void (await onPrimaries((node) => node.configResetStat())),
    flushAll: async () => void (await onPrimaries((node) => node.flushAll())),
    configSet: async (parameters: Record<string, string>) => void (await onPrimaries((node) => node.configSet(parameters))),
    aclGetUser: async (username: string) => (await cluster.admin(cluster.ports[0]!)).aclGetUser(username),
    sendCommand: async (args: string[]) => (await onPrimaries((node) => node.sendCommand(args)))[0],
    del: async (keys: string | string[]) =>
      (await Promise.all([keys].flat().map((key) => client.del(key)))).reduce((sum, n) => sum + n, 0),
  };
  // The same methods as one node's admin client, so the tests read the same: a cast, for the commands above.
  const admin = new Proxy(client, {
    get: (target, property, receiver) =>
      typeof property === 'string' && property in wholeDatabase
        ? wholeDatabase[property]
        : Reflect.get(target, property, receiver),
  }) as unknown as TestRedis['admin'];

  const eachNode = (action: (port: number) => void) => {
    for (const port of cluster.ports) action(port);
  };
  return {
    port: cluster.ports[0]!,
    url: cluster.url,
    env: cluster.env,
    appPassword: cluster.secrets.redisAppPassword,
    admin,
    async start() {
      for (const port of cluster.ports) await cluster.start(port);
      await cluster.ready();
    },
    kill: async () => void (await Promise.all(cluster.ports.map(cluster.kill))),
    pause: () => void eachNode(cluster.pause),
    resume: () => void eachNode(cluster.resume),
  };
}

/**
 * INFO from several primaries as one: commandstats summed per command (calls, rejected and failed), else joined.
 * A replica's REPLCONF ACK, sent every second, is the cluster's own traffic, not a client's: left out, so a test
 * counting what the app sent does not depend on when a second ends.
 */
function combineInfo(answers: string[]): string {
  if (!answers.some((answer) => answer.includes('cmdstat_'))) return answers.join('\n');
  const totals = new Map<string, { calls: number; rejected: number; failed: number }>();
  for (const [, name, calls, rejected, failed] of answers
    .join('\n')
    .matchAll(/cmdstat_([\w|]+):calls=(\d+),.*?rejected_calls=(\d+),failed_calls=(\d+)/g)) {
    if (name === 'replconf') continue;
    const total = totals.get(name!) ?? { calls: 0, rejected: 0, failed: 0 };
    totals.set(name!, {
      calls: total.calls + Number(calls),
      rejected: total.rejected + Number(rejected),
      failed: total.failed + Number(failed),
    });
  }
  const lines = [...totals].map(
    ([name, { calls, rejected, failed }]) => `cmdstat_${name}:calls=${calls},rejected_calls=${rejected},failed_calls=${failed}`,
  );
  return ['# Commandstats', ...lines].join('\r\n');
}
