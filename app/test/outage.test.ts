import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import supertest from 'supertest';
import { createBrowser, createInstance, type Instance } from './helpers/instance.ts';
import { startRedisServer, waitFor, type TestRedis } from './helpers/redis-server.ts';

async function timed<T>(request: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await request();
  return [result, performance.now() - start];
}

describe('Redis outages', () => {
  let redis: TestRedis;
  let a: Instance;
  let b: Instance;
  const browser = createBrowser();

  before(async () => {
    redis = await startRedisServer();
    // The production default command timeout (500 ms), as deployed.
    a = await createInstance(redis.url, { INSTANCE_ID: 'app-a', REDIS_COMMAND_TIMEOUT_MS: '500' });
    b = await createInstance(redis.url, { INSTANCE_ID: 'app-b', REDIS_COMMAND_TIMEOUT_MS: '500' });
    assert.equal((await browser.login(a)).status, 303);
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
    await redis.stop();
  });

  it('Redis killed › logged-in requests get 503 with Retry-After within 200 ms; anonymous pages stay 200', async () => {
    await redis.kill();
    await waitFor(async () => !a.redis.isReady && !b.redis.isReady, { what: 'the clients to notice' });

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

  it('Redis back (same AOF) › service resumes without a restart and the login survived', async () => {
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

  it('Redis frozen (SIGSTOP, like a partition) › 503 within 1 s, nothing hangs; SIGCONT › service resumes', async () => {
    redis.pause();
    try {
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
    } finally {
      redis.resume();
    }
    await waitFor(async () => (await browser.on(a).get('/api/session')).body.authenticated === true, { what: 'A to recover' });
  });

  it('a login during an outage › 503, and no half-created session', async () => {
    const fresh = createBrowser();
    const _csrf = await fresh.csrfToken(a);
    await redis.kill();
    await waitFor(async () => !a.redis.isReady, { what: 'the client to notice' });
    const res = await fresh.on(a).post('/login', { _csrf, username: 'bob', password: 'bob-password-2' });
    assert.equal(res.status, 503);
    assert.equal(fresh.jar.has('sid'), false);
    await redis.start();
  });
});

describe('Redis answering "not now"', () => {
  let redis: TestRedis;
  let a: Instance;
  const browser = createBrowser();

  before(async () => {
    redis = await startRedisServer();
    a = await createInstance(redis.url);
    await browser.login(a);
  });
  after(async () => {
    await a.close();
    await redis.stop();
  });

  it('Redis full (maxmemory, noeviction) › a login is a 503, not a 500; existing sessions keep working', async () => {
    await redis.admin.configSet({ maxmemory: '1', 'maxmemory-policy': 'noeviction' });
    try {
      const fresh = createBrowser();
      const _csrf = await fresh.csrfToken(a);
      const login = await fresh.on(a).post('/login', { _csrf, username: 'bob', password: 'bob-password-2' });
      assert.equal(login.status, 503);
      assert.equal(login.headers['retry-after'], '1');
      assert.equal((await browser.on(a).get('/api/session')).body.authenticated, true);
    } finally {
      await redis.admin.configSet({ maxmemory: '0' });
    }
  });
});
