import { join } from 'node:path';
import { send } from '../lib/http.ts';
import { repoRoot, runPaths } from '../lib/paths.ts';
import { redisUrl } from '../lib/redis.ts';
import { ensureSecrets } from '../lib/secrets.ts';
import { printToStackLog } from '../stack/stack-log.ts';
import { startStack, type Stack } from '../stack/start-stack.ts';
import type { BenchOptions } from './options.ts';

/** Ports of the naive stack: the bench's own, shifted by this much, so both stacks run side by side. */
const PORT_SHIFT = 100;

/**
 * The baseline: three instances of connect-redis's README setup (tools/bench/naive/server.ts) behind the same
 * nginx configuration, on a Redis of their own, started and stopped like the project's stack. `users` sessions are
 * logged in; their Cookie headers are returned.
 */
export async function bootNaiveTarget(options: BenchOptions, users: number, onStack: (stack: Stack) => void) {
  const { nginxPort, redisPort, appBasePort } = options.stack;
  const runDir = join(options.stack.runDir, '..', 'bench-naive');
  // The naive app connects as admin: the project's ACL would refuse connect-redis's GET (a plain README setup has
  // no ACL at all). The secrets exist before the stack starts, so the instances can be given the URL.
  const secrets = ensureSecrets(runPaths(runDir).secrets);
  const stack = await startStack({
    instances: options.stack.instances,
    nginxPort: nginxPort + PORT_SHIFT,
    redisPort: redisPort + PORT_SHIFT,
    appBasePort: appBasePort + PORT_SHIFT,
    runDir,
    fresh: true,
    appEntry: join(repoRoot, 'tools/bench/naive/server.ts'),
    redis: options.stack.redis,
    env: {
      ...process.env,
      // The same TLS Redis as the project's stack; the README app's client trusts the stack's CA the standard way.
      NAIVE_REDIS_URL: redisUrl('admin', secrets.redisAdminPassword, redisPort + PORT_SHIFT, { tls: true }),
      NODE_EXTRA_CA_CERTS: secrets.redisCaFile,
    },
    print: printToStackLog(runDir),
    outputFile: join(runDir, 'children.log'),
  });
  onStack(stack);
  const cookies: string[] = [];
  for (let i = 0; i < users; i++) {
    const res = await send(`${stack.urls.nginx}/login`, { method: 'POST', form: { username: `naive-${i}` } });
    const setCookie = [res.headers['set-cookie'] ?? []].flat()[0];
    if (res.status !== 303 || !setCookie) throw new Error(`naive POST /login: ${res.status || res.error}`);
    cookies.push(setCookie.split(';')[0]!);
  }
  return { stack, cookies };
}
