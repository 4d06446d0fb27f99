import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSessionIndex } from '../../src/session-index.ts';
import { createBrowser } from '../helpers/browser.ts';
import { createInstance, startTwoInstances } from '../helpers/instance.ts';
import { ALICE, BOB } from '../helpers/users.ts';

/** Keys without an expiry (TTL -1), with their TTLs: what the app must never leave in Redis. */
async function keysWithoutExpiry(admin: { keys(pattern: string): Promise<string[]>; ttl(key: string): Promise<number> }) {
  const keys = await admin.keys('*');
  const ttls = await Promise.all(keys.map((key) => admin.ttl(key)));
  return keys.filter((_, i) => ttls[i]! < 0);
}

describe('every key the app writes expires', () => {
  it('after logins beyond the cap, reads, a preference write, listing, revoking, failed and throttled logins, logout', async (t) => {
    const limits = { MAX_SESSIONS_PER_USER: '2', LOGIN_MAX_FAILURES_PER_ACCOUNT: '2', LOGIN_MAX_FAILURES_PER_CLIENT: '6' };
    const { redis, a, b } = await startTwoInstances(t, limits);
    const devices = [createBrowser(), createBrowser(), createBrowser()];
    for (const device of devices) assert.equal((await device.login(a, ALICE)).status, 303);
    const [, laptop, phone] = devices as [unknown, ReturnType<typeof createBrowser>, ReturnType<typeof createBrowser>];
    assert.equal((await laptop.on(b).get('/api/session')).body.authenticated, true);
    const _csrf = await laptop.csrfToken(b);
    assert.equal((await laptop.on(b).post('/preferences', { _csrf, theme: 'dark' })).status, 303);
    const listed = (await phone.on(a).get('/api/sessions')).body.sessions as { id: string; current: boolean }[];
    const other = listed.find((session) => !session.current)!;
    const token = await phone.csrfToken(a);
    assert.equal(
      (await phone.on(a).post(`/sessions/${other.id}/revoke`, { _csrf: token, password: ALICE.password })).status,
      303,
    );
    const guesser = createBrowser();
    const guess = await guesser.csrfToken(a);
    for (let i = 0; i < 8; i++)
      await guesser.on(i % 2 ? a : b).post('/login', { _csrf: guess, username: `u${i}`, password: 'guess-123' });
    assert.equal((await createBrowser().login(b, BOB)).status, 429, 'the address is throttled');
    assert.equal((await phone.logout(b)).status, 303);

    assert.ok((await redis.admin.keys('*')).length > 0);
    assert.deepEqual(await keysWithoutExpiry(redis.admin), []);
  });

  it('a login with a TTL that is not a positive integer › refused before anything is written', async (t) => {
    const { redis } = await startTwoInstances(t);
    const { redis: sessionRedis } = await createInstance(t, redis);
    const index = createSessionIndex({
      redis: sessionRedis,
      secrets: ['test-secret-that-is-at-least-32-characters'],
      idleTimeoutS: 60,
      absoluteTimeoutS: Number.NaN,
      maxSessionsPerUser: 10,
    });
    await assert.rejects(
      sessionRedis.run((on) => index.login(on, index.newId('alice'), '{}', 60, 'ch')),
      /TTL must be a positive integer/,
    );
    assert.deepEqual(await redis.admin.keys('*'), []);
  });
});
