import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBrowser } from '../helpers/browser.ts';
import { type Instance, startTwoInstances } from '../helpers/instance.ts';
import { ALICE, BOB } from '../helpers/users.ts';

const LIMITS = { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_CLIENT: '8' };

describe('login', () => {
  it('wrong password and unknown user › the same 401 and message', async (t) => {
    const { a } = await startTwoInstances(t, LIMITS);
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

  it('an unknown user costs as much as a wrong password (Argon2id against a decoy hash)', async (t) => {
    const { a } = await startTwoInstances(t, LIMITS);
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

  it('missing fields › 400', async (t) => {
    const { a } = await startTwoInstances(t, LIMITS);
    const browser = createBrowser();
    const _csrf = await browser.csrfToken(a);
    assert.equal((await browser.on(a).post('/login', { _csrf, username: 'alice' })).status, 400);
  });

  it('failures are counted across instances: 429 with Retry-After after the limit, even with the right password', async (t) => {
    const { a, b } = await startTwoInstances(t, LIMITS);
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

  it('a successful login resets the account counter', async (t) => {
    const { a, b } = await startTwoInstances(t, LIMITS);
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

  it('concurrent guesses cannot slip past the limit (attempts are counted before the password is checked)', async (t) => {
    const { a, b } = await startTwoInstances(t, LIMITS);
    const browser = createBrowser();
    const _csrf = await browser.csrfToken(a);
    const guesses = Array.from({ length: 12 }, (_, i) =>
      browser.on(i % 2 ? a : b).post('/login', { _csrf, username: 'alice', password: `guess-${i}-wrong` }),
    );
    const statuses = (await Promise.all(guesses)).map((res) => res.status).sort();
    assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429, 429, 429, 429, 429, 429, 429]);
  });

  it('one address sweeping many accounts is throttled per client', async (t) => {
    const { a, b } = await startTwoInstances(t, LIMITS);
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

  it('an address already over its limit › a flood of random usernames makes Redis store nothing more, and a real login from another address works', async (t) => {
    const { redis, a, b } = await startTwoInstances(t, { ...LIMITS, TRUST_PROXY: '1' });
    const attacker = { 'X-Forwarded-For': '203.0.113.7' };
    const browser = createBrowser();
    const _csrf = await browser.csrfToken(a, attacker);
    const guess = (i: number) =>
      browser
        .on(i % 2 ? a : b)
        .post('/login', { _csrf, username: `random-${i}-${Math.random()}`, password: 'guess-123' }, attacker);
    for (let i = 0; i < 9; i++) await guess(i);
    assert.equal((await guess(9)).status, 429, 'the address is over its limit');
    const stored = async () => (await redis.admin.keys('login-fail:*')).sort();
    const before = await stored();
    // At most one account counter per attempt the address was allowed: bounded by its own limit.
    assert.ok(before.length <= 8 + 1, `${before.length} keys after 8 allowed attempts`);
    const flood = await Promise.all(Array.from({ length: 50 }, (_, i) => guess(100 + i)));
    assert.deepEqual([...new Set(flood.map((res) => res.status))], [429]);
    assert.deepEqual(await stored(), before, 'a refused attempt stored a key');

    const user = createBrowser();
    assert.equal((await user.login(b, ALICE, { 'X-Forwarded-For': '198.51.100.1' })).status, 303);
  });
});
