import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePortBase } from '../lib/ports.ts';
import { run } from '../lib/spawn.ts';
import { createControlToken } from '../stack/control-auth.ts';
import { startControlServer } from '../stack/control-server.ts';
import { startStack, type Stack } from '../stack/start-stack.ts';

/**
 * For the rotation tests: a Sentinel stack (or `redis: 'cluster'`) with its catalogue (so the cache Redis), on free
 * ports, and its control API as npm start -- --control serves it; `rotate(...args)` runs `cli` (a rotation's command
 * line) against it. Stopped and its run dir removed when the test ends.
 */
export async function startRotationStack(
  t: TestContext,
  {
    env,
    instances,
    cli,
    redis = 'sentinel',
  }: { env: NodeJS.ProcessEnv; instances: number; cli: string; redis?: 'sentinel' | 'cluster' },
) {
  const runDir = mkdtempSync(join(tmpdir(), 'rotate-'));
  // A cluster's six nodes on +0..+5, each with its bus port 10000 above (so below the apps' 30000..); the cache +20 and
  // PostgreSQL +30 either way.
  const redisPort =
    redis === 'cluster'
      ? await freePortBase([0, 1, 2, 3, 4, 5, 10000, 10001, 10002, 10003, 10004, 10005, 20, 30], 10000, 19900)
      : await freePortBase([0, 1, 2, 10, 11, 12, 20, 30], 20000, 29900);
  const appBasePort = await freePortBase([1, 2, 51, 52, 90, 95], 30000, 32600);
  let stack: Stack | undefined;
  let control: Awaited<ReturnType<typeof startControlServer>> | undefined;
  t.after(async () => {
    control?.close();
    control?.closeAllConnections();
    await stack?.stop();
    rmSync(runDir, { recursive: true, force: true });
  });
  const output: string[] = [];
  stack = await startStack({
    redisPort,
    appBasePort,
    nginxPort: appBasePort + 90,
    runDir,
    instances,
    redis,
    env,
    print: (line) => output.push(line),
    readyTimeoutMs: 60_000,
  });
  const controlPort = appBasePort + 95;
  control = await startControlServer(stack, { port: controlPort, token: createControlToken(runDir).token });
  const secret = (name: string) => readFileSync(join(runDir, 'secrets', name), 'utf8').trim();
  const rotate = (...args: string[]) =>
    run(process.execPath, [cli, '--run-dir', runDir, '--control-port', String(controlPort), ...args], {
      timeoutMs: 120_000,
      stdout: true,
    });
  return { stack, runDir, secret, rotate };
}
