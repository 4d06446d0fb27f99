import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createClient } from 'redis';
import { clusterNodeArgs, createCluster, renderAcl } from '../../../tools/lib/redis-server.ts';
import { ensureSecrets } from '../../../tools/lib/secrets.ts';
import { freePort, waitFor } from './wait.ts';

export type TestCluster = Awaited<ReturnType<typeof startRedisCluster>>;

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
  const ports: number[] = [];
  while (ports.length < 6) {
    const port = await freePort();
    // The cluster bus listens on port + 10000.
    if (port + 10_000 < 65_536 && !ports.includes(port)) ports.push(port);
  }
  const processes = new Map<number, ChildProcess>();
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
  const admin = async (port: number) => {
    const client = admins.get(port) ?? admins.set(port, adminClient(port)).get(port)!;
    if (!client.isOpen) await client.connect();
    return client;
  };

  async function start(port: number) {
    const dir = join(root, String(port));
    mkdirSync(dir, { recursive: true });
    processes.set(
      port,
      spawn(
        'redis-server',
        [
          ...clusterNodeArgs({ secretsDir: secrets.dir, dir, port, aclfile }),
          ...(process.env.CLUSTER_LOG ? ['--logfile', join(dir, 'log')] : []),
        ],
        { stdio: 'ignore' },
      ),
    );
    await waitFor(async () => (await (await admin(port)).ping()) === 'PONG', { what: `cluster node ${port}`, timeoutMs: 10_000 });
  }
  async function kill(port: number) {
    const child = processes.get(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  t.after(async () => {
    for (const client of admins.values()) if (client.isOpen) client.destroy();
    await Promise.all(ports.map(kill));
    if (!process.env.CLUSTER_LOG) rmSync(root, { recursive: true, force: true });
  });

  for (const port of ports) await start(port);
  createCluster({ secretsDir: secrets.dir, ports, adminPassword: secrets.redisAdminPassword });
  // Ready: every slot served, and every replica in sync (one that never synced cannot take over).
  const ready = async () => {
    if (!(await (await admin(ports[0]!)).clusterInfo()).includes('cluster_state:ok')) return false;
    const roles = await Promise.all(ports.map(async (port) => (await admin(port)).info('replication')));
    return roles.filter((info) => info.includes('role:slave') && info.includes('master_link_status:up')).length === 3;
  };
  await waitFor(ready, { what: 'the cluster, its replicas in sync', timeoutMs: 20_000, intervalMs: 100 });

  /** The node serving `key` now, as the cluster itself says (CLUSTER KEYSLOT, then the slot's owner in CLUSTER SLOTS). */
  async function primaryOf(key: string): Promise<number> {
    const client = await admin(ports[0]!);
    const slot = await client.clusterKeySlot(key);
    const ranges = await client.clusterSlots();
    const range = ranges.find(({ from, to }) => slot >= from && slot <= to)!;
    return range.master.port;
  }

  return {
    ports,
    /** For createInstance: the app's user, the nodes as seeds, TLS verified by the cluster's CA. */
    url: `rediss://app:${secrets.redisAppPassword}@cluster`,
    env: {
      REDIS_CLUSTER_NODES: ports.map((port) => `127.0.0.1:${port}`).join(','),
      REDIS_TLS_CA_FILE: secrets.redisCaFile,
    },
    admin,
    primaryOf,
    kill,
    start,
  };
}
