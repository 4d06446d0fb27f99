import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startChild } from '../lib/child.ts';
import { send } from '../lib/http.ts';
import { repoRoot, runPaths } from '../lib/paths.ts';
import { waitFor } from '../lib/poll.ts';
import { findExecutable } from '../lib/prereqs.ts';
import { assertPortsFree } from '../lib/ports.ts';
import { redisAnswersPing, redisUrl } from '../lib/redis.ts';
import { ensureSecrets } from '../lib/secrets.ts';
import { printToStackLog } from '../stack/stack-log.ts';
import { startStack, type Stack } from '../stack/start-stack.ts';
import type { BenchOptions } from './options.ts';

/**
 * Which Redis the naive setup runs on: `plain`, what connect-redis's README and most deployments copied from it use
 * (one `redis-server` with its defaults, plain TCP, no password, no replica); `tls`, the project's own Sentinel group
 * (TLS, two replicas, AOF), so that the difference the Redis makes is seen apart from the difference the app makes.
 */
export type NaiveRedis = 'plain' | 'tls';

/** Ports of the naive stacks: the bench's own, shifted by this much, so all the stacks run side by side. */
const PORT_SHIFT: Record<NaiveRedis, number> = { tls: 100, plain: 300 };

/**
 * The baseline: three instances of connect-redis's README setup (tools/bench/naive/server.ts) behind the same
 * nginx configuration, on a Redis of their own, started and stopped like the project's stack. `users` sessions are
 * logged in; their Cookie headers are returned, with the admin URL of the Redis they are on and that Redis's pids
 * (for its CPU), and what stops whatever this started besides the stack.
 */
export async function bootNaiveTarget(
  options: BenchOptions,
  users: number,
  redis: NaiveRedis,
  onStarted: (stack: Stack, stopOthers: () => Promise<void>) => void,
) {
  const shift = PORT_SHIFT[redis];
  const { nginxPort, redisPort, appBasePort } = options.stack;
  const runDir = join(options.stack.runDir, '..', `bench-naive-${redis}`);
  // The naive app connects as admin on the TLS side: the project's ACL would refuse connect-redis's GET (a plain
  // README setup has no ACL at all). The secrets exist before the stack starts, so the instances can be given the URL.
  const secrets = ensureSecrets(runPaths(runDir).secrets);
  const plain = redis === 'plain' ? await startPlainRedis(runDir, redisPort + shift + 1) : undefined;
  const url = plain?.url ?? redisUrl('admin', secrets.redisAdminPassword, redisPort + shift, { tls: true });
  let stack: Stack;
  try {
    stack = await startStack({
      instances: options.stack.instances,
      nginxPort: nginxPort + shift,
      redisPort: redisPort + shift,
      appBasePort: appBasePort + shift,
      runDir,
      fresh: true,
      catalog: false,
      appEntry: join(repoRoot, 'tools/bench/naive/server.ts'),
      // On plain Redis, the stack's own Redis is one idle node nothing connects to (its CPU is not counted).
      redis: plain ? 'single' : options.stack.redis,
      env: {
        ...process.env,
        NAIVE_REDIS_URL: url,
        // The README app's client trusts the stack's CA the standard way.
        NODE_EXTRA_CA_CERTS: secrets.redisCaFile,
      },
      print: printToStackLog(runDir),
      outputFile: join(runDir, 'children.log'),
    });
  } catch (err) {
    await plain?.stop();
    throw err;
  }
  onStarted(stack, async () => void (await plain?.stop()));
  const cookies: string[] = [];
  for (let i = 0; i < users; i++) {
    const res = await send(`${stack.urls.nginx}/login`, { method: 'POST', form: { username: `naive-${i}` } });
    const setCookie = [res.headers['set-cookie'] ?? []].flat()[0];
    if (res.status !== 303 || !setCookie) throw new Error(`naive POST /login: ${res.status || res.error}`);
    cookies.push(setCookie.split(';')[0]!);
  }
  const adminUrl = plain?.url ?? (await stack.redis.primaryAdminUrl());
  const redisPids = plain ? () => [plain.child.pid] : undefined;
  return { stack, cookies, adminUrl, redisPids };
}

/** `redis-server` as `docker run redis` starts it: its built-in defaults (RDB snapshots, no AOF), no password, no TLS. */
async function startPlainRedis(runDir: string, port: number) {
  await assertPortsFree([{ port, what: 'plain redis' }]);
  const dir = join(runDir, 'plain-redis');
  mkdirSync(dir, { recursive: true });
  const print = printToStackLog(runDir);
  const child = startChild({
    name: 'plain-redis',
    command: findExecutable('redis-server') ?? 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
    print,
    onUnexpectedExit: (info) => print(`[plain-redis] exited unexpectedly (${info.code ?? info.signal})`),
  });
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => void (await child.stop('SIGTERM', 5_000));
  try {
    await child.spawned;
    await waitFor('plain redis', () => redisAnswersPing(url), { timeoutMs: 10_000 });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, child: child as typeof child & { pid: number }, stop };
}
