import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import supertest from 'supertest';
import { createBrowser } from '../helpers/browser.ts';
import { createInstance, type Instance } from '../helpers/instance.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { BOB } from '../helpers/users.ts';
import { waitFor } from '../helpers/wait.ts';

async function timed<T>(request: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await request();
  return [result, performance.now() - start];
}

/** Redis, two instances with the production default command timeout (500 ms), and a browser logged in on A. */
async function loggedIn(t: Parameters<typeof startRedisServer>[0]) {
  const redis = await startRedisServer(t);
  const a = await createInstance(t, redis, { INSTANCE_ID: 'app-a', REDIS_COMMAND_TIMEOUT_MS: '500' });
  const b = await createInstance(t, redis, { INSTANCE_ID: 'app-b', REDIS_COMMAND_TIMEOUT_MS: '500' });
  const browser = createBrowser();
  assert.equal((await browser.login(a)).status, 303);
  return { redis, a, b, browser };
}

describe('Redis outages', () => {
  it('Redis killed › logged-in requests get 503 with Retry-After within 200 ms; anonymous pages stay 200', async (t) => {
    const { redis, a, b, browser } = await loggedIn(t);
    await redis.kill();
    await waitFor(async () => (await redisAway(a)) && redisAway(b), { what: 'the instances to notice' });

    for (const instance of [a, b]) {
      const [res, ms] = await timed(() => browser.on(instance).get('/api/session'));
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '1');
      assert.deepEqual(res.body, { error: 'The service is briefly unavailable. Please try again in a moment.' });
      assert.ok(ms < 200, `answered in ${ms.toFixed(0)} ms`);
      const [page] = await timed(() => browser.on(instance).get('/', { Accept: 'text/html' }));
      assert.equal(page.status, 503);
      assert.match(page.text, /Try again shortly/);
    }
    const anonymous = createBrowser();
    for (const path of ['/', '/login', '/api/session', '/healthz', '/static/app.css']) {
      assert.equal((await anonymous.on(a).get(path)).status, 200, path);
    }
    const ready = await supertest(a.app).get('/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.headers['retry-after'], '1');
  });

  it('Redis back (same AOF) › service resumes without a restart and the login survived', async (t) => {
    const { redis, a, b, browser } = await loggedIn(t);
    await redis.kill();
    await waitFor(async () => (await redisAway(a)) && redisAway(b), { what: 'the instances to notice' });
    await redis.start();
    // Each instance reconnects on its own backoff; both must be back, with the login, within 2 s.
    const [, ms] = await timed(() =>
      Promise.all(
        [a, b].map((instance) =>
          waitFor(async () => (await browser.on(instance).get('/api/session')).body.authenticated === true, { what: 'recovery' }),
        ),
      ),
    );
    assert.ok(ms < 2000, `recovered in ${ms.toFixed(0)} ms`);
    assert.equal((await supertest(b.app).get('/readyz')).status, 200);
  });

  it('Redis frozen (SIGSTOP, like a partition) › 503 within 1 s, nothing hangs; SIGCONT › service resumes', async (t) => {
    const { redis, a, browser } = await loggedIn(t);
    redis.pause();
    const results = await Promise.all(Array.from({ length: 5 }, () => timed(() => browser.on(a).get('/api/session'))));
    for (const [res, ms] of results) {
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '1');
      assert.ok(ms < 1000, `answered in ${ms.toFixed(0)} ms`);
    }
    assert.equal((await createBrowser().on(a).get('/login')).status, 200);
    const [ready, readyMs] = await timed(() => supertest(a.app).get('/readyz'));
    assert.equal(ready.status, 503);
    assert.ok(readyMs < 1000);
    redis.resume();
    await waitFor(async () => (await browser.on(a).get('/api/session')).body.authenticated === true, { what: 'A to recover' });
  });

  it('a login during an outage › 503, and no half-created session', async (t) => {
    const { redis, a } = await loggedIn(t);
    const fresh = createBrowser();
    const _csrf = await fresh.csrfToken(a);
    await redis.kill();
    await waitFor(() => redisAway(a), { what: 'the instance to notice' });
    const res = await fresh.on(a).post('/login', { _csrf, ...BOB });
    assert.equal(res.status, 503);
    assert.equal(fresh.jar.has('sid'), false);
  });

  it('a 503 caused by Redis › logged once, at warn, with its cause and no stack trace', async (t) => {
    const { redis, a, linesOf } = await withLog(t);
    const browser = createBrowser();
    await browser.login(a);
    await redis.kill();
    await waitFor(() => redisAway(a), { what: 'the instance to notice' });
    const res = await browser.on(a).get('/api/session');
    assert.equal(res.status, 503);

    const logged = await linesOf(res.headers['x-request-id']);
    assert.equal(logged.length, 1, JSON.stringify(logged));
    assert.equal(logged[0].level, 40);
    assert.equal(logged[0].msg, 'dependency unavailable');
    assert.match(logged[0].cause, /offline/);
    assert.doesNotMatch(JSON.stringify(logged), /stack|    at /);
  });

  it('Redis refusing a command (NOPERM) › 500, logged once, at error, with the real error', async (t) => {
    const { redis, a, linesOf } = await withLog(t);
    const browser = createBrowser();
    await browser.login(a);
    await redis.admin.sendCommand(['ACL', 'SETUSER', 'app', '-eval']);
    const res = await browser.on(a).get('/api/session');
    assert.equal(res.status, 500);
    assert.deepEqual(res.body, { error: 'Something went wrong on our side.' });

    const logged = await linesOf(res.headers['x-request-id']);
    assert.equal(logged.length, 1, JSON.stringify(logged));
    assert.equal(logged[0].level, 50);
    assert.match(logged[0].err.message, /NOPERM/);
    assert.doesNotMatch(logged[0].err.stack, /failed with status code/);
  });
});

/** Whether the instance has noticed that its Redis is away: its readiness says so (one node or a cluster alike). */
async function redisAway(instance: Instance) {
  return (await supertest(instance.app).get('/readyz')).status === 503;
}

/** An instance whose JSON log lines are kept, and a reader of the lines of one request. */
async function withLog(t: Parameters<typeof startRedisServer>[0]) {
  const redis = await startRedisServer(t);
  const log = new PassThrough();
  let lines = '';
  log.on('data', (chunk) => (lines += chunk));
  const a = await createInstance(t, redis, { LOG_LEVEL: 'info' }, log);
  const linesOf = (id: unknown) =>
    waitFor(
      () => {
        const mine = lines
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line))
          .filter((line) => line.req?.id === id);
        return mine.length > 0 && mine;
      },
      { what: 'the request log line' },
    );
  return { redis, a, linesOf };
}

describe('Redis answering "not now"', () => {
  it('Redis full (maxmemory, noeviction) › a login is a 503, not a 500; existing sessions keep working', async (t) => {
    const { redis, a, browser } = await loggedIn(t);
    await redis.admin.configSet({ maxmemory: '1', 'maxmemory-policy': 'noeviction' });
    const fresh = createBrowser();
    const _csrf = await fresh.csrfToken(a);
    const login = await fresh.on(a).post('/login', { _csrf, ...BOB });
    assert.equal(login.status, 503);
    assert.equal(login.headers['retry-after'], '1');
    assert.equal((await browser.on(a).get('/api/session')).body.authenticated, true);
  });
});
