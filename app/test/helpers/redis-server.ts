import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';

export type TestRedis = Awaited<ReturnType<typeof startRedisServer>>;

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | false>,
  { timeoutMs = 5000, intervalMs = 20, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * A real redis-server on a free loopback port with AOF in a temporary directory, plus an admin client for
 * asserting what is stored. kill/start/pause/resume simulate outages; stop() removes everything.
 */
export async function startRedisServer() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redis-test-'));
  let child: ChildProcess | undefined;

  async function start() {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''],
      {
        stdio: 'ignore',
      },
    );
    await waitFor(async () => (await admin.connect().then(() => true)) && admin.ping(), { what: `redis-server on ${port}` });
  }

  const admin = createClient({ url: `redis://127.0.0.1:${port}`, disableOfflineQueue: true, socket: { reconnectStrategy: 50 } });
  admin.on('error', () => {});
  admin.connect = ((connect) => async () => (admin.isOpen ? admin : connect()))(admin.connect.bind(admin));

  await start();

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    admin,
    start,
    async kill() {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child!.kill('SIGKILL');
      await exited;
    },
    pause: () => void child!.kill('SIGSTOP'),
    resume: () => void child!.kill('SIGCONT'),
    async stop() {
      child?.kill('SIGCONT');
      if (admin.isOpen) admin.destroy();
      const exited = new Promise((resolve) => (child!.exitCode === null ? child!.once('exit', resolve) : resolve(null)));
      child!.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
