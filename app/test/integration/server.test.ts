import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { createBrowser } from '../helpers/browser.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { spawnServer, startServer } from '../helpers/server-process.ts';
import { ALICE } from '../helpers/users.ts';
import { waitFor } from '../helpers/wait.ts';

const status = async (url: string) => (await fetch(url)).status;

/** One request written by hand, as an old client or nginx would send it; the whole answer once the server closes. */
async function rawRequest(port: number, request: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  let response = '';
  socket.on('data', (chunk) => (response += chunk));
  socket.end(request);
  await once(socket, 'close');
  return response;
}

describe('server process', () => {
  it('SIGTERM while Redis is frozen › still exits 0, within the shutdown timeout', async (t) => {
    const redis = await startRedisServer(t);
    const server = await startServer(t, redis, { SHUTDOWN_TIMEOUT_MS: '5000' });
    await waitFor(async () => (await status(`${server.url}/readyz`)) === 200, { what: 'the server to be ready' });
    redis.pause();
    // A command that will never be answered: the readiness PING gives up after 250 ms, the command stays queued.
    assert.equal(await status(`${server.url}/readyz`), 503);
    const start = performance.now();
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    assert.ok(performance.now() - start < 3000, 'exited only after the forced-exit timer');
  });

  it('started while Redis is away › live at once, not ready; ready once Redis starts, without a restart', async (t) => {
    const redis = await startRedisServer(t);
    await redis.kill();
    const server = await startServer(t, redis);
    assert.equal(await status(`${server.url}/healthz`), 200);
    assert.equal(await status(`${server.url}/readyz`), 503);
    const login = await fetch(`${server.url}/api/session`, { headers: { Cookie: 'sid=s%3Aany.sig' } });
    assert.equal(login.status, 200, 'a request that needs no Redis is answered');
    await redis.start();
    await waitFor(async () => (await status(`${server.url}/readyz`)) === 200, { what: 'ready', timeoutMs: 10_000 });
    assert.equal((await createBrowser().login(server.url, ALICE)).status, 303);
  });

  it('SIGTERM while Redis has been away since start › exits 0', async (t) => {
    const redis = await startRedisServer(t);
    await redis.kill();
    const server = await startServer(t, redis);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    assert.match(server.output(), /"msg":"stopped"/);
  });

  it('bad configuration › prints every problem at once and exits non-zero', async (t) => {
    const server = spawnServer(t, { NODE_ENV: 'production', PORT: 'eighty', DEMO_USERS: 'alice:password1' });
    assert.equal(await server.exited, 1);
    for (const name of ['PORT', 'REDIS_URL', 'SESSION_SECRET', 'DEMO_USERS'])
      assert.match(server.output(), new RegExp(`- ${name}:`));
  });

  it('NODE_ENV unset, only REDIS_URL and SESSION_SECRET (and a port) › production: no demo users, alice cannot log in', async (t) => {
    const redis = await startRedisServer(t);
    const server = await startServer(t, redis, {
      NODE_ENV: undefined,
      SESSION_SECRET: 'a-production-secret-of-at-least-32-chars',
    });
    const login = await createBrowser().login(server.url, ALICE);
    assert.equal(login.status, 401);
    assert.match(server.output(), /"users":0,"msg":"listening"/);
    assert.doesNotMatch(server.output(), /development defaults/);
  });

  it('a request without a Host header (HTTP/1.0, or HTTP/1.1 as nginx forwards it) › answered like any other', async (t) => {
    const redis = await startRedisServer(t);
    const server = await startServer(t, redis);
    for (const version of ['HTTP/1.0', 'HTTP/1.1']) {
      const response = await rawRequest(server.port, `GET /login ${version}\r\nConnection: close\r\n\r\n`);
      assert.match(response, /^HTTP\/1.1 200 OK\r\n/, version);
      assert.match(response, /name="_csrf"/, version);
    }
  });

  it("what Node's own parser refuses › 400 for an unknown method, 431 for headers beyond 40 KiB, each naming the instance", async (t) => {
    const redis = await startRedisServer(t);
    const server = await startServer(t, redis, { INSTANCE_ID: 'app-parser' });
    const unknown = await rawRequest(server.port, 'FROB / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.match(unknown, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(unknown, /\r\nX-Instance-Id: app-parser\r\n/);
    const filler = (n: number) => `X-Filler-${n}: ${'x'.repeat(7000)}\r\n`;
    const within = await rawRequest(
      server.port,
      `GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${[0, 1, 2, 3].map(filler).join('')}\r\n`,
    );
    assert.match(within, /^HTTP\/1\.1 200 /, 'the 28 KB nginx may pass');
    const beyond = await rawRequest(
      server.port,
      `GET /healthz HTTP/1.1\r\nHost: localhost\r\n${[0, 1, 2, 3, 4, 5, 6].map(filler).join('')}\r\n`,
    );
    assert.match(beyond, /^HTTP\/1\.1 431 /);
    assert.match(beyond, /\r\nX-Instance-Id: app-parser\r\n/);
  });

  it('development › names the defaults it used, logs JSON with the instance id and never a password or session id', async (t) => {
    const redis = await startRedisServer(t);
    const server = await startServer(t, redis, { INSTANCE_ID: 'app-log' });
    const browser = createBrowser();
    const csrf = await browser.csrfToken(server.url);
    const login = await browser.login(server.url, ALICE);
    assert.equal(login.status, 303);
    const sid = browser.sessionId()!;
    await waitFor(() => server.output().includes('"msg":"login"'), { what: 'the login log line' });

    const lines = server
      .output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.ok(lines.every((line) => line.instance === 'app-log'));
    assert.ok(lines.some((line) => line.msg?.includes('development defaults') && line.variables.includes('SESSION_SECRET')));
    assert.ok(lines.some((line) => line.msg === 'login' && line.user === 'alice'));
    assert.ok(lines.some((line) => typeof line.req?.id === 'string'));
    for (const secret of [ALICE.password, sid, csrf, 'development-only-session-secret', redis.appPassword])
      assert.ok(!server.output().includes(secret), `log leaks ${secret}`);
  });

  it('SIGTERM › readiness turns 503 while still serving, then the server stops, Redis closes, exit 0', async (t) => {
    const redis = await startRedisServer(t);
    const server = await startServer(t, redis, { SHUTDOWN_TIMEOUT_MS: '5000', SHUTDOWN_DELAY_MS: '1000' });
    await waitFor(async () => (await status(`${server.url}/readyz`)) === 200, { what: 'the server to be ready' });
    const clients = async () => Number(/connected_clients:(\d+)/.exec(await redis.admin.info('clients'))![1]);
    const clientsBefore = await clients();

    server.child.kill('SIGTERM');
    await waitFor(async () => (await status(`${server.url}/readyz`)) === 503, { what: 'readiness to fail' });
    assert.equal(await status(`${server.url}/healthz`), 200, 'still serving during the shutdown delay');
    assert.equal(await server.exited, 0, server.output());
    assert.match(server.output(), /"msg":"shutting down"/);
    assert.match(server.output(), /"msg":"stopped"/);
    await waitFor(async () => (await clients()) === clientsBefore - 1, { what: 'the Redis connection to close' });
    await assert.rejects(
      fetch(`${server.url}/healthz`),
      (err: Error) => (err.cause as { code?: string })?.code === 'ECONNREFUSED',
    );
  });
});
