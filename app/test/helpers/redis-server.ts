import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, type TestContext } from 'node:test';
import { createClient } from 'redis';
import { redisArgs, renderAcl as renderAclFile } from '../../../tools/lib/redis-server.ts';
import { ensureSecrets } from '../../../tools/lib/secrets.ts';
import { startRedisClusterAsServer } from './redis-cluster.ts';
import { startTestRedisProcess } from './redis-process.ts';
import { freePort } from './wait.ts';

/** Throwaway secrets and the ACL render-acl.sh makes of them: once per test process, every server reads the same file. */
function renderAcl() {
  const dir = mkdtempSync(join(tmpdir(), 'redis-acl-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const secrets = ensureSecrets(dir);
  const passwords = { app: secrets.redisAppPassword, admin: secrets.redisAdminPassword };
  renderAclFile(dir, join(dir, 'users.acl'), 'redis-server');
  return { passwords, aclfile: join(dir, 'users.acl') };
}
let acl: ReturnType<typeof renderAcl> | undefined;

export type TestRedis = Awaited<ReturnType<typeof startRedisNode>> & { env?: Record<string, string> };

/**
 * The test's Redis: one node (below), or with TEST_REDIS=cluster a six-node Redis Cluster in the same shape
 * (redis-cluster.ts), so the same tests prove the app on both (`npm run test:app:cluster`).
 */
export function startRedisServer(t: Pick<TestContext, 'after'>): Promise<TestRedis> {
  return onCluster ? startRedisClusterAsServer(t) : startRedisNode(t);
}

// The test file's shared Redis (sharedRedisServer): started on first use, stopped once the file's tests are done.
const sharedTeardown: (() => unknown)[] = [];
after(async () => {
  for (const teardown of sharedTeardown.reverse()) await teardown();
});
let shared: Promise<TestRedis> | undefined;
const emptiedFor = new WeakSet<object>();

/**
 * The test file's Redis (one node, or a cluster as startRedisServer says), shared by its tests: started on the first
 * call, emptied (FLUSHALL on every primary) the first time each test asks for it, so every test starts with nothing
 * in it, and stopped when the file's tests are done. Starting one per test cost most of the app tests' time (a
 * six-node cluster: ~2.5 s each). A test that breaks its Redis (kill, pause, start) takes its own (startRedisServer):
 * here those throw.
 */
export async function sharedRedisServer(t: Pick<TestContext, 'after'>): Promise<TestRedis> {
  shared ??= startRedisServer({ after: (teardown: () => unknown) => void sharedTeardown.push(teardown) });
  const redis = await shared;
  if (!emptiedFor.has(t)) {
    emptiedFor.add(t);
    await redis.admin.flushAll();
  }
  const refuse = () => {
    throw new Error('the shared Redis cannot be broken: a test that kills, pauses or restarts Redis takes its own');
  };
  return { ...redis, kill: refuse, start: refuse, pause: refuse, resume: refuse };
}

/** Whether this test process runs its Redis tests on a cluster (TEST_REDIS=cluster). */
export const onCluster = process.env.TEST_REDIS === 'cluster';

/**
 * A real redis-server as deployed: the shipped redis.conf and the ACL that render-acl.sh renders from throwaway
 * secrets, on a free loopback port, its AOF in a temporary directory. `url` connects as the `app` user, so a command
 * the ACL lacks fails the test that needs it; `admin` is the operators' user, for assertions.
 * kill/start/pause/resume simulate outages; the test's end stops the server and removes its directory.
 */
async function startRedisNode(t: Pick<TestContext, 'after'>) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redis-test-'));
  const { passwords, aclfile } = (acl ??= renderAcl());
  const urlFor = (user: keyof typeof passwords) => `redis://${user}:${passwords[user]}@127.0.0.1:${port}`;

  const admin = createClient({ url: urlFor('admin'), disableOfflineQueue: true, socket: { reconnectStrategy: 50 } });
  admin.on('error', () => {});
  const node = await startTestRedisProcess(t, {
    name: `redis-${port}`,
    port,
    dir,
    args: () => redisArgs({ port, dir, aclfile }),
    admin,
  });
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  return {
    port,
    /** The app's connection: user `app`, limited to what the shipped ACL grants. */
    url: urlFor('app'),
    appPassword: passwords.app,
    admin,
    start: async () => void (await node.start()),
    kill: async () => void (await node.kill()),
    pause: () => void node.pause(),
    resume: () => void node.resume(),
  };
}
