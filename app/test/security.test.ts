import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import supertest from 'supertest';
import { SESSION_PREFIX } from '../src/session-store.ts';
import { ALICE, BOB, createBrowser, createInstance, type Instance } from './helpers/instance.ts';
import { startRedisServer, type TestRedis } from './helpers/redis-server.ts';

describe('CSRF, throttling and bad input', () => {
  let redis: TestRedis;
  let a: Instance;
  let b: Instance;

  before(async () => {
    redis = await startRedisServer();
    const env = { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_CLIENT: '8' };
    a = await createInstance(redis.url, { ...env, INSTANCE_ID: 'app-a' });
    b = await createInstance(redis.url, { ...env, INSTANCE_ID: 'app-b' });
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
    await redis.stop();
  });
  beforeEach(() => redis.admin.flushAll());

  describe('CSRF', () => {
    it('POST /login without a token › 403 and no session', async () => {
      const browser = createBrowser();
      await browser.on(a).get('/login');
      const res = await browser.on(a).post('/login', ALICE);
      assert.equal(res.status, 403);
      assert.equal(await redis.admin.dbSize(), 0);
    });

    it('POST /login with a token that does not match the cookie › 403', async () => {
      const victim = createBrowser();
      const attacker = createBrowser();
      const _csrf = await attacker.csrfToken(a);
      await victim.on(a).get('/login');
      assert.equal((await victim.on(a).post('/login', { _csrf, ...ALICE })).status, 403);
    });

    it('POST /logout from another site › 403 and the session survives', async () => {
      const browser = createBrowser();
      await browser.login(a);
      const _csrf = await browser.csrfToken(a);
      const crossSite = await browser
        .on(b)
        .post('/logout', { _csrf }, { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' });
      assert.equal(crossSite.status, 403);
      const noToken = await browser.on(b).post('/logout', {});
      assert.equal(noToken.status, 403);
      assert.equal((await browser.on(a).get('/api/session')).body.authenticated, true);
      assert.equal(await redis.admin.exists(SESSION_PREFIX + browser.sessionId()), 1);
    });

    it('a post from a sibling subdomain with a cookie and token pair of its own (cookie tossing) › 403', async () => {
      const attacker = createBrowser();
      const _csrf = await attacker.csrfToken(a);
      const headers = { Origin: 'http://evil.localhost:8080', Host: 'localhost:8080', 'Sec-Fetch-Site': 'same-site' };
      assert.equal((await attacker.on(a).post('/login', { _csrf, ...ALICE }, headers)).status, 403);
    });

    it('a same-origin browser post (Origin and Sec-Fetch-Site set) › accepted', async () => {
      const browser = createBrowser();
      const _csrf = await browser.csrfToken(a);
      const headers = { Origin: 'http://localhost:8080', Host: 'localhost:8080', 'Sec-Fetch-Site': 'same-origin' };
      assert.equal((await browser.on(a).post('/login', { _csrf, ...ALICE }, headers)).status, 303);
    });

    it('a token issued by one instance is accepted by another (shared secret, no server state)', async () => {
      const browser = createBrowser();
      const _csrf = await browser.csrfToken(a);
      assert.equal((await browser.on(b).post('/login', { _csrf, ...ALICE })).status, 303);
    });

    it('a token signed with a previous secret still verifies during rotation', async () => {
      const old = 'test-secret-that-is-at-least-32-characters';
      const rotated = await createInstance(redis.url, { SESSION_SECRET: `a-brand-new-secret-of-32-characters-min,${old}` });
      try {
        const browser = createBrowser();
        await browser.login(a);
        assert.equal((await browser.on(rotated).get('/api/session')).body.authenticated, true);
        const _csrf = await browser.csrfToken(a);
        assert.equal((await browser.on(rotated).post('/logout', { _csrf })).status, 303);
      } finally {
        await rotated.close();
      }
    });
  });

  describe('login', () => {
    it('wrong password and unknown user › the same 401 and message', async () => {
      const browser = createBrowser();
      const _csrf = await browser.csrfToken(a);
      const wrong = await browser.on(a).post('/login', { _csrf, username: 'alice', password: 'not-her-password' });
      const unknown = await browser.on(a).post('/login', { _csrf, username: 'mallory', password: 'not-her-password' });
      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, 401);
      const message = (html: string) => /role="alert">([^<]+)</.exec(html)?.[1];
      assert.equal(message(wrong.text), 'Wrong username or password.');
      assert.equal(message(unknown.text), message(wrong.text));
    });

    it('an unknown user costs as much as a wrong password (Argon2id against a decoy hash)', async () => {
      const browser = createBrowser();
      const _csrf = await browser.csrfToken(a);
      const time = async (username: string) => {
        const start = performance.now();
        await browser.on(a).post('/login', { _csrf, username, password: 'not-the-password' });
        return performance.now() - start;
      };
      const median = (values: number[]) => values.sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 3; i++) {
        known.push(await time('bob'));
        unknown.push(await time(`nobody-${i}`));
      }
      const ratio = median(unknown) / median(known);
      assert.ok(ratio > 0.5 && ratio < 2, `unknown/known time ratio ${ratio.toFixed(2)}`);
    });

    it('missing fields › 400', async () => {
      const browser = createBrowser();
      const _csrf = await browser.csrfToken(a);
      assert.equal((await browser.on(a).post('/login', { _csrf, username: 'alice' })).status, 400);
    });

    it('failures are counted across instances: 429 with Retry-After after the limit, even with the right password', async () => {
      const browser = createBrowser();
      const _csrf = await browser.csrfToken(a);
      const attempt = (instance: Instance, password: string) =>
        browser.on(instance).post('/login', { _csrf, username: 'alice', password });
      assert.equal((await attempt(a, 'wrong-1')).status, 401);
      assert.equal((await attempt(b, 'wrong-2')).status, 401);
      assert.equal((await attempt(a, 'wrong-3')).status, 401);
      const throttled = await attempt(b, ALICE.password);
      assert.equal(throttled.status, 429);
      const retryAfter = Number(throttled.headers['retry-after']);
      assert.ok(retryAfter > 0 && retryAfter <= 900, `Retry-After ${retryAfter}`);
      assert.match(throttled.text, /Try again later/);
      // Another account from the same address is not locked out by alice's failures.
      assert.equal((await browser.on(a).post('/login', { _csrf, ...BOB })).status, 303);
    });

    it('a successful login resets the account counter', async () => {
      const browser = createBrowser();
      const _csrf = await browser.csrfToken(a);
      for (const password of ['wrong-1', 'wrong-2']) await browser.on(a).post('/login', { _csrf, username: 'alice', password });
      assert.equal((await browser.on(b).post('/login', { _csrf, ...ALICE })).status, 303);
      const again = createBrowser();
      const token = await again.csrfToken(a);
      for (const password of ['wrong-1', 'wrong-2']) {
        assert.equal((await again.on(a).post('/login', { _csrf: token, username: 'alice', password })).status, 401);
      }
    });

    it('concurrent guesses cannot slip past the limit (attempts are counted before the password is checked)', async () => {
      const browser = createBrowser();
      const _csrf = await browser.csrfToken(a);
      const guesses = Array.from({ length: 12 }, (_, i) =>
        browser.on(i % 2 ? a : b).post('/login', { _csrf, username: 'alice', password: `guess-${i}-wrong` }),
      );
      const statuses = (await Promise.all(guesses)).map((res) => res.status).sort();
      assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429, 429, 429, 429, 429, 429, 429]);
    });

    it('one address sweeping many accounts is throttled per client', async () => {
      const browser = createBrowser();
      const _csrf = await browser.csrfToken(a);
      const statuses: number[] = [];
      for (let i = 0; i < 9; i++) {
        statuses.push(
          (await browser.on(i % 2 ? a : b).post('/login', { _csrf, username: `user-${i}`, password: 'guess-123' })).status,
        );
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 401, 401, 429]);
    });
  });

  describe('bad input', () => {
    it('a body over the limit › 413', async () => {
      const res = await supertest(a.app)
        .post('/login')
        .type('form')
        .send(`username=${'x'.repeat(20_000)}`);
      assert.equal(res.status, 413);
      assert.doesNotMatch(res.text, /at \w+ \(|node_modules/);
    });

    it('malformed JSON › 400 in JSON, without a stack trace', async () => {
      const res = await supertest(a.app).post('/login').set('Accept', 'application/json').type('json').send('{"username":');
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { error: 'The request body is malformed.' });
    });

    it('an unsupported charset › 415', async () => {
      const res = await supertest(a.app)
        .post('/login')
        .set('Content-Type', 'application/x-www-form-urlencoded; charset=koi8-r')
        .send('a=b');
      assert.equal(res.status, 415);
    });

    it('unknown paths › 404 as HTML or JSON, as the client asked', async () => {
      const html = await supertest(a.app).get('/nope').set('Accept', 'text/html');
      assert.equal(html.status, 404);
      assert.match(String(html.headers['content-type']), /html/);
      const json = await supertest(a.app).get('/nope').set('Accept', 'application/json');
      assert.equal(json.status, 404);
      assert.deepEqual(Object.keys(json.body), ['error']);
      assert.equal((await supertest(a.app).get('/api/nope')).headers['content-type']?.startsWith('application/json'), true);
    });

    it('non-string form fields › 400, never a 500', async () => {
      const browser = createBrowser();
      const _csrf = await browser.csrfToken(a);
      const res = await supertest(a.app)
        .post('/login')
        .set('Cookie', [...browser.jar].map(([k, v]) => `${k}=${v}`).join('; '))
        .type('json')
        .send({ _csrf, username: ['alice'], password: { $gt: '' } });
      assert.equal(res.status, 400);
    });

    it('every response names its instance and carries security headers', async () => {
      const res = await supertest(a.app).get('/login');
      assert.equal(res.headers['x-instance-id'], 'app-a');
      assert.match(String(res.headers['content-security-policy']), /script-src 'self'/);
      assert.doesNotMatch(String(res.headers['content-security-policy']), /unsafe-inline/);
      assert.equal(res.headers['x-powered-by'], undefined);
      // Browsers then send our own origin with form posts (under no-referrer they send `Origin: null`).
      assert.equal(res.headers['referrer-policy'], 'same-origin');
      assert.doesNotMatch(res.text, /<script>|onclick=/);
    });
  });
});
