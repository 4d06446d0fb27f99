import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { waitFor } from '../lib/poll.ts';
import { freePort, isPortFree } from '../lib/ports.ts';
import { spawnCaptured } from '../lib/spawn.ts';

const CLI = join(import.meta.dirname, 'cli.ts');

/** `npm start` as a user runs it, on ports of its own so it can run beside a stack you already have. */
function runStack(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const runDir = mkdtempSync(join(tmpdir(), 'stack-test-'));
  const { child, exited, output } = spawnCaptured(process.execPath, [CLI, '--run-dir', runDir, ...args], { env });
  return {
    child,
    exited: exited.then(({ code }) => code),
    output,
    cleanUp: () => rmSync(runDir, { recursive: true, force: true }),
  };
}

describe('npm start (tools/stack/cli.ts)', () => {
  const cleanUps: (() => void)[] = [];
  after(() => cleanUps.forEach((cleanUp) => cleanUp()));

  it('--instances 2 › two instances behind nginx; Ctrl-C leaves no process and no listening port', async () => {
    const [nginxPort, redisPort, controlPort] = [await freePort(), await freePort(), await freePort()];
    const appBasePort = 41000 + Math.floor(Math.random() * 1000);
    const ports = [nginxPort, redisPort, controlPort, appBasePort + 1, appBasePort + 2];
    const stack = await runStack([
      '--instances',
      '2',
      '--control',
      '--control-port',
      String(controlPort),
      '--nginx-port',
      String(nginxPort),
      '--redis-port',
      String(redisPort),
      '--app-base-port',
      String(appBasePort),
    ]);
    cleanUps.push(stack.cleanUp);
    try {
      // The runner prints "ready" once nginx answers /readyz (polled, like everything here).
      await waitFor('the stack', async () => stack.output().includes('[stack] ready:'), { timeoutMs: 30_000, intervalMs: 100 });
      assert.equal((await fetch(`http://127.0.0.1:${nginxPort}/readyz`)).status, 200);
      assert.match(stack.output(), /\[stack\] ready: http:\/\/127\.0\.0\.1:\d+\//);
      assert.match(stack.output(), /demo accounts/);
      assert.match(stack.output(), /\[app-1\] /);
      assert.doesNotMatch(stack.output(), /redis:\/\/admin:[^@]+@/, 'printed the admin password');

      const served = new Set<string>();
      for (let i = 0; i < 6; i++)
        served.add((await fetch(`http://127.0.0.1:${nginxPort}/api/session`)).headers.get('x-instance-id')!);
      assert.deepEqual([...served].sort(), ['app-1', 'app-2']);

      type Status = { redis: { pid: number }; nginx: { pid: number }; instances: { pid: number }[] };
      const status = (await (await fetch(`http://127.0.0.1:${controlPort}/status`)).json()) as Status;
      const pids: number[] = [status.redis.pid, status.nginx.pid, ...status.instances.map((instance) => instance.pid)];
      assert.equal(pids.filter(Boolean).length, 4);

      stack.child.kill('SIGINT');
      assert.equal(await stack.exited, 0, stack.output());
      for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `process ${pid} is still running`);
      for (const port of ports) assert.equal(await isPortFree(port), true, `port ${port} is still taken`);
    } finally {
      stack.child.kill('SIGKILL');
    }
  });

  it('a port already taken › says which, and how to find the holder, and exits 1', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as { port: number };
    try {
      const stack = await runStack(['--nginx-port', String(port), '--redis-port', String(await freePort())]);
      cleanUps.push(stack.cleanUp);
      assert.equal(await stack.exited, 1);
      assert.match(stack.output(), new RegExp(`${port}`));
      assert.match(stack.output(), /ss -ltnp/);
    } finally {
      blocker.close();
    }
  });

  it('redis-server or nginx missing › says which, with the command that installs them, and exits 1', async () => {
    // A PATH with Node only: no redis-server, no nginx.
    const stack = await runStack([], { PATH: dirname(process.execPath) });
    cleanUps.push(stack.cleanUp);
    assert.equal(await stack.exited, 1);
    assert.match(stack.output(), /redis-server.*not found/);
    assert.match(stack.output(), /sudo apt-get install -y redis-server nginx/);
  });
});
