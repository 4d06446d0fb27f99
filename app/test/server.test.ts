import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { freePort, startRedisServer, waitFor, type TestRedis } from './helpers/redis-server.ts';

const SERVER = new URL('../src/server.ts', import.meta.url).pathname;

function startServer(env: Record<string, string>) {
  const child = spawn(process.execPath, [SERVER], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return { child, output: () => output };
}

/** A development server on a free port against the test Redis; `env` adds or overrides variables. */
async function startDevServer(redisUrl: string, env: Record<string, string> = {}) {
  const port = await freePort();
  return { port, ...startServer({ NODE_ENV: 'development', PORT: String(port), REDIS_URL: redisUrl, ...env }) };
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : once(child, 'exit').then(([code]) => code as number | null);
}

function get(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res
        .on('data', (chunk) => (body += chunk))
        .on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('server process', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedisServer();
  });
  after(() => redis.stop());

  it('SIGTERM while Redis is frozen › still exits 0, within the shutdown timeout', async () => {
    const { port, child, output } = await startDevServer(redis.url, { SHUTDOWN_TIMEOUT_MS: '5000' });
    await waitFor(async () => (await get(port, '/readyz')).status === 200, { what: 'the server to be ready' });
    redis.pause();
    try {
      // A command that will never be answered: the readiness PING gives up after 250 ms, the command stays queued.
      assert.equal((await get(port, '/readyz')).status, 503);
      const start = performance.now();
      child.kill('SIGTERM');
      assert.equal(await exitOf(child), 0, output());
      assert.ok(performance.now() - start < 3000, 'exited only after the forced-exit timer');
    } finally {
      redis.resume();
    }
  });

  it('bad configuration › prints every problem at once and exits non-zero', async () => {
    const { child, output } = startServer({ NODE_ENV: 'production', PORT: 'eighty', DEMO_USERS: 'alice:password1' });
    assert.equal(await exitOf(child), 1);
    for (const name of ['PORT', 'REDIS_URL', 'SESSION_SECRET', 'DEMO_USERS']) assert.match(output(), new RegExp(`- ${name}:`));
  });

  it('development › names the defaults it used, logs JSON with the instance id and never a password or session id', async () => {
    const { port, child, output } = await startDevServer(redis.url, { INSTANCE_ID: 'app-log' });
    try {
      await waitFor(async () => (await get(port, '/healthz')).status === 200, { what: 'the server to listen' });
      const form = new URLSearchParams({ username: 'alice', password: 'alice-password-1' });
      const page = await get(port, '/login');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
      const cookie = String(page.headers['set-cookie']).split(';')[0]!;
      form.set('_csrf', csrf);
      const login = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
        const body = form.toString();
        request(
          {
            host: '127.0.0.1',
            port,
            path: '/login',
            method: 'POST',
            headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length },
          },
          (res) => {
            res.resume().on('end', () => resolve({ status: res.statusCode!, cookie: String(res.headers['set-cookie']) }));
          },
        )
          .on('error', reject)
          .end(body);
      });
      assert.equal(login.status, 303);
      const sid = decodeURIComponent(/sid=s%3A([^.;]+)/.exec(login.cookie)![1]!);
      await get(port, '/api/session', { Cookie: login.cookie.split(';')[0]! });
      await waitFor(async () => output().includes('"path":"/api/session"'), { what: 'the request log line' });

      const lines = output()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      assert.ok(lines.every((line) => line.instance === 'app-log'));
      assert.ok(lines.some((line) => line.msg?.includes('development defaults') && line.variables.includes('SESSION_SECRET')));
      assert.ok(lines.some((line) => line.msg === 'login' && line.user === 'alice'));
      assert.ok(lines.some((line) => typeof line.req?.id === 'string'));
      for (const secret of ['alice-password-1', sid, csrf, 'development-only-session-secret'])
        assert.ok(!output().includes(secret), `log leaks ${secret}`);
    } finally {
      child.kill('SIGKILL');
      await exitOf(child);
    }
  });

  it('SIGTERM › readiness turns 503 while still serving, then the server stops, Redis closes, exit 0', async () => {
    const { port, child, output } = await startDevServer(redis.url, { SHUTDOWN_TIMEOUT_MS: '5000', SHUTDOWN_DELAY_MS: '1000' });
    await waitFor(async () => (await get(port, '/readyz')).status === 200, { what: 'the server to be ready' });
    const clients = async () => Number(/connected_clients:(\d+)/.exec(await redis.admin.info('clients'))![1]);
    const clientsBefore = await clients();

    child.kill('SIGTERM');
    await waitFor(async () => (await get(port, '/readyz')).status === 503, { what: 'readiness to fail' });
    assert.equal((await get(port, '/healthz')).status, 200, 'still serving during the shutdown delay');
    assert.equal(await exitOf(child), 0, output());
    assert.match(output(), /"msg":"shutting down"/);
    assert.match(output(), /"msg":"stopped"/);
    await waitFor(async () => (await clients()) === clientsBefore - 1, { what: 'the Redis connection to close' });
    await assert.rejects(get(port, '/healthz'), /ECONNREFUSED/);
  });
});
