import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createClient } from 'redis';
import { renderAcl } from '../../../tools/lib/redis-server.ts';
import { ensureSecrets } from '../../../tools/lib/secrets.ts';
import { startTestRedisProcess } from './redis-process.ts';
import { freePort } from './wait.ts';

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

  const admin = createClient({
    url: `redis://admin:${adminPassword}@127.0.0.1:${port}`,
    disableOfflineQueue: true,
    socket: { reconnectStrategy: 50 },
  });
  admin.on('error', () => {});
  const node = await startTestRedisProcess(t, {
    name: `cache-${port}`,
    port,
    dir,
    args: () => [CACHE_CONF, '--port', String(port), '--dir', dir, '--aclfile', aclFile],
    admin,
  });
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  return {
    port,
    url: `redis://cache@127.0.0.1:${port}`,
    password: cachePassword,
    admin,
    start: async () => void (await node.start()),
    kill: async () => void (await node.kill()),
    pause: () => void node.pause(),
    resume: () => void node.resume(),
  };
}
