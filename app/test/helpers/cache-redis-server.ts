import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createClient } from 'redis';
import { renderAcl } from '../../../tools/lib/redis-server.ts';
import { ensureSecrets } from '../../../tools/lib/secrets.ts';
import { freePort, waitFor } from './wait.ts';

const CACHE_CONF = join(import.meta.dirname, '../../../infra/redis/cache.conf');

/**
 * The cache Redis as deployed: the shipped infra/redis/cache.conf and the ACL render-acl.sh renders for it
 * (users `cache` and `admin`), on a free loopback port. kill/start/pause/resume simulate outages.
 */
export async function startCacheRedisServer(t: TestContext) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cache-redis-test-'));
  const secrets = ensureSecrets(join(dir, 'secrets'));
  const cachePassword = readFileSync(secrets.redisCachePasswordFile, 'utf8').trim();
  const adminPassword = secrets.redisAdminPassword;
  const aclFile = join(dir, 'users.acl');
  renderAcl(secrets.dir, aclFile, 'redis-server', 'cache');
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
