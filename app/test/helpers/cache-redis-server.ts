import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createClient } from 'redis';
import { freePort, waitFor } from './wait.ts';

const CACHE_CONF = join(import.meta.dirname, '../../../infra/redis/cache.conf');

/**
 * The cache user's rules, as infra/redis/render-acl.sh must render them: its own key prefix and exactly the commands
 * app/src/catalog/cache.ts sends (EVAL runs GET and SET under the same rules). No FLUSHALL, KEYS, CONFIG, DEBUG.
 */
export const CACHE_USER_RULES =
  'resetkeys ~cache:* resetchannels -@all +ping +get +set +del +eval +hello +auth +select +client|setname';

/**
 * The cache Redis as deployed: the shipped infra/redis/cache.conf and an ACL rendered the way render-acl.sh does
 * (users `cache` and `admin`), on a free loopback port. kill/start/pause/resume simulate outages.
 */
export async function startCacheRedisServer(t: TestContext) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cache-redis-test-'));
  const cachePassword = randomBytes(18).toString('base64url');
  const adminPassword = randomBytes(18).toString('base64url');
  const aclFile = join(dir, 'users.acl');
  const acl = [
    'user default off',
    `user cache on >${cachePassword} ${CACHE_USER_RULES}`,
    `user admin on >${adminPassword} ~* &* +@all`,
  ];
  writeFileSync(aclFile, `${acl.join('\n')}\n`, { mode: 0o600 });
  let child: ChildProcess | undefined;

  const admin = createClient({
    url: `redis://admin:${adminPassword}@127.0.0.1:${port}`,
    disableOfflineQueue: true,
    socket: { reconnectStrategy: 50 },
  });
  admin.on('error', () => {});

  async function start() {
    child = spawn('redis-server', [CACHE_CONF, '--port', String(port), '--dir', dir, '--aclfile', aclFile], { stdio: 'ignore' });
    await waitFor(async () => (admin.isOpen || (await admin.connect())) && (await admin.ping()) === 'PONG', {
      what: `cache redis-server on ${port}`,
    });
  }
  async function kill() {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  t.after(async () => {
    if (admin.isOpen) admin.destroy();
    await kill();
    rmSync(dir, { recursive: true, force: true });
  });
  await start();

  return {
    port,
    url: `redis://cache@127.0.0.1:${port}`,
    password: cachePassword,
    admin,
    start,
    kill,
    pause: () => void child!.kill('SIGSTOP'),
    resume: () => void child!.kill('SIGCONT'),
  };
}
