import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { memcachedAnswers, memcachedArgs, prepareMemcachedFiles } from '../../../tools/lib/memcached-server.ts';
import { ensureSecrets } from '../../../tools/lib/secrets.ts';
import { createRedisProcess } from '../../../tools/stack/redis-process.ts';
import { testSupervisor } from './test-supervisor.ts';
import { freePort } from './wait.ts';

/**
 * `count` memcached nodes as deployed (TLS, ASCII authentication of user `cache`: tools/lib/memcached-server.ts),
 * each on a free loopback port, run as the local stack runs its own (the same start, readiness, kill, pause and
 * resume: tools/stack/redis-process.ts). kill/start/pause/resume per node simulate outages.
 */
export async function startMemcachedServers(t: TestContext, count = 3) {
  const dir = mkdtempSync(join(tmpdir(), 'memcached-test-'));
  const secrets = ensureSecrets(join(dir, 'secrets'));
  const files = prepareMemcachedFiles(secrets.dir, join(dir, 'memcached'));
  const ca = readFileSync(secrets.redisCaFile, 'utf8');

  const nodes = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const port = await freePort();
      return createRedisProcess({
        supervisor: testSupervisor(),
        name: `memcached-${i + 1}`,
        redisServer: 'memcached',
        args: () => memcachedArgs({ ...files, port }),
        port,
        dir,
        url: `memcached://cache@127.0.0.1:${port}`,
        adminPasswordFile: secrets.redisCachePasswordFile,
        readyTimeoutMs: 5000,
        isReady: () => memcachedAnswers(port, ca),
      });
    }),
  );
  t.after(async () => {
    await Promise.all(nodes.map((node) => node.kill()));
    rmSync(dir, { recursive: true, force: true });
  });
  await Promise.all(nodes.map((node) => node.start()));
  return {
    nodes: nodes.map((node) => ({ ...node, server: `127.0.0.1:${node.port}` })),
    servers: nodes.map((node) => `127.0.0.1:${node.port}`).join(','),
    password: files.password,
    caFile: secrets.redisCaFile,
  };
}
