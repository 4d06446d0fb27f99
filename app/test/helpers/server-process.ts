import type { TestContext } from 'node:test';
import { spawnCaptured } from '../../../tools/lib/spawn.ts';
import type { TestRedis } from './redis-server.ts';
import { freePort, waitFor } from './wait.ts';

const SERVER = new URL('../../src/server.ts', import.meta.url).pathname;

export type ServerProcess = ReturnType<typeof spawnServer>;

/** `node app/src/server.ts` with exactly `env` (and PATH); its output is captured, and it is killed at the test's end. */
export function spawnServer(t: Pick<TestContext, 'after'>, env: Record<string, string | undefined>) {
  const {
    child,
    output,
    exited: captured,
  } = spawnCaptured(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH, ...env },
  });
  const exited = captured.then(({ code }) => code);
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return { child, output, exited };
}

/**
 * A server on a free port against the test Redis, as its `app` user, answering `/healthz`; `env` adds or overrides
 * variables (NODE_ENV is development unless `env` says otherwise).
 */
export async function startServer(
  t: Pick<TestContext, 'after'>,
  redis: Pick<TestRedis, 'url' | 'env'>,
  env: Record<string, string | undefined> = {},
) {
  const port = await freePort();
  const server = spawnServer(t, {
    NODE_ENV: 'development',
    PORT: String(port),
    METRICS_PORT: '0',
    REDIS_URL: redis.url,
    ...redis.env,
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/healthz`)).ok, { what: `the server on ${port}`, timeoutMs: 10_000 });
  return { ...server, port, url };
}
