import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createClient } from 'redis';
import { redisUrl, trustRedisCa } from '../../../tools/lib/redis.ts';
import { renderAcl, sentinelArgs, sentinelNodeArgs } from '../../../tools/lib/redis-server.ts';
import { primaryPortOf, sentinelGroupReady } from '../../../tools/lib/sentinel.ts';
import { ensureSecrets } from '../../../tools/lib/secrets.ts';
import type { RedisProcess } from '../../../tools/stack/redis-process.ts';
import { startTestRedisProcess } from './redis-process.ts';
import { freePort, waitFor } from './wait.ts';

export type SentinelGroup = Awaited<ReturnType<typeof startSentinelGroup>>;

/**
 * The shipped Sentinel topology on loopback, from the shipped files and scripts: a primary, two replicas and three
 * Sentinels, TLS everywhere and the rendered ACLs, with throwaway secrets. `env` points an app instance at it through
 * the Sentinels. Nodes are addressed by port; `primaryPort()` asks a Sentinel which node is primary now.
 * Everything is killed and removed at the test's end.
 */
export async function startSentinelGroup(t: Pick<TestContext, 'after'>) {
  const root = mkdtempSync(join(tmpdir(), 'sentinel-test-'));
  const secrets = ensureSecrets(join(root, 'secrets'));
  const aclfile = join(root, 'users.acl');
  renderAcl(secrets.dir, aclfile, 'redis-server');
  const nodePorts = [await freePort(), await freePort(), await freePort()];
  const sentinelPorts = [await freePort(), await freePort(), await freePort()];
  const primary = { host: '127.0.0.1', port: nodePorts[0]! };
  const tls = { tls: true as const, ca: readFileSync(secrets.redisCaFile) };

  const adminClient = (port: number) => {
    const client = createClient({
      username: 'admin',
      password: secrets.redisAdminPassword,
      disableOfflineQueue: true,
      maintNotifications: 'disabled',
      socket: { host: '127.0.0.1', port, ...tls, reconnectStrategy: 50, connectTimeout: 1000 },
    });
    client.on('error', () => {});
    return client;
  };
  const connected = async (client: ReturnType<typeof adminClient>) => {
    if (!client.isOpen) await client.connect();
    // Open but between two connections (its node restarted, or dropped its clients as it became a replica in a
    // switchover): a command now would be refused as offline, so wait for the reconnect (every 50 ms).
    if (!client.isReady) await waitFor(() => client.isReady, { what: 'the admin connection back', timeoutMs: 5_000 });
    return client;
  };

  const argsFor = (port: number) => {
    const dir = join(root, String(port));
    mkdirSync(dir, { recursive: true });
    const n = nodePorts.indexOf(port);
    if (n >= 0)
      return sentinelNodeArgs({ secretsDir: secrets.dir, dir, port, aclfile, ...(n > 0 ? { replicaOf: primary } : {}) });
    return sentinelArgs({ secretsDir: secrets.dir, dir, port, primary });
  };
  const nodes = new Map(nodePorts.map((port) => [port, adminClient(port)]));
  const sentinels = new Map(sentinelPorts.map((port) => [port, adminClient(port)]));

  const processes = new Map<number, RedisProcess>();
  async function start(port: number) {
    const started = processes.get(port);
    if (started) return void (await started.start());
    const admin = nodes.get(port) ?? sentinels.get(port)!;
    const dir = join(root, String(port));
    processes.set(port, await startTestRedisProcess(t, { name: `redis-${port}`, port, dir, args: () => argsFor(port), admin }));
  }
  const kill = async (port: number) => void (await processes.get(port)?.kill());
  t.after(() => rmSync(root, { recursive: true, force: true }));

  for (const port of [...nodePorts, ...sentinelPorts]) await start(port);
  trustRedisCa(secrets.redisCaFile);
  const adminUrl = (port: number) => redisUrl('admin', secrets.redisAdminPassword, port, { tls: true });
  const primaryPort = () => primaryPortOf(adminUrl(sentinelPorts[0]!));
  await waitFor(() => sentinelGroupReady(sentinelPorts.map(adminUrl), adminUrl(primary.port), 2), {
    what: 'the Sentinel group',
    timeoutMs: 20_000,
    intervalMs: 100,
  });

  return {
    nodePorts,
    sentinelPorts,
    /** For createInstance: the app's user on whichever node the Sentinels name, over TLS verified by the group's CA. */
    url: `rediss://app:${secrets.redisAppPassword}@sessions`,
    env: {
      REDIS_SENTINELS: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','),
      REDIS_SENTINEL_PASSWORD: secrets.redisSentinelAppPassword,
      REDIS_TLS_CA_FILE: secrets.redisCaFile,
    },
    primaryPort,
    /** For the operators' scripts (infra/redis/switchover.sh): the admin password's file and the CA. */
    files: { adminPassword: secrets.redisAdminPasswordFile, ca: secrets.redisCaFile },
    /** The operators' user on a node or Sentinel, by port. */
    admin: (port: number) => connected(nodes.get(port) ?? sentinels.get(port)!),
    start,
    kill,
    // A node already gone (killed, or stopped at the test's end) is left alone, as a signal to a dead process would be.
    pause: (port: number) => void (processes.get(port)?.isRunning() && processes.get(port)!.pause()),
    resume: (port: number) => void (processes.get(port)?.isRunning() && processes.get(port)!.resume()),
  };
}
