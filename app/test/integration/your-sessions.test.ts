import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import supertest from 'supertest';
import { INDEX_PREFIX } from '../../src/keys.ts';
import { type Browser, createBrowser } from '../helpers/browser.ts';
import { createInstance, type Instance, startTwoInstances } from '../helpers/instance.ts';
import { createSlowSessionWriter } from '../helpers/slow-session-writer.ts';
import { ALICE, BOB } from '../helpers/users.ts';
import { waitFor } from '../helpers/wait.ts';

const LAPTOP = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';
const PHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1';
const TABLET =
  'Mozilla/5.0 (iPad; CPU OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1';

type Listed = { id: string; current: boolean; device: string; createdAt: string; lastSeenAt: string };

/** The Redis Cluster hash slot of a key: CRC16 (XMODEM) of its hash tag, or of the whole key without one. */
function slotOf(key: string): number {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

async function loginFrom(target: Instance, userAgent: string, user = ALICE) {
  const browser = createBrowser();
  assert.equal((await browser.login(target, user, { 'User-Agent': userAgent })).status, 303);
  return browser;
}
const listOf = async (browser: Browser, target: Instance): Promise<Listed[]> => {
  const res = await browser.on(target).get('/api/sessions');
  assert.equal(res.status, 200, res.text);
  return res.body.sessions;
};
const post = async (browser: Browser, target: Instance, path: string, form: Record<string, string> = {}) =>
  browser.on(target).post(path, { _csrf: await browser.csrfToken(target), ...form });
const authenticated = async (browser: Browser, target: Instance) =>
  (await browser.on(target).get('/api/session')).body.authenticated === true;

describe('your sessions', () => {
  it('lists each session of the user with its device, times and "this device", by an opaque handle', async (t) => {
    const { a, b } = await startTwoInstances(t);
    const laptop = await loginFrom(a, LAPTOP);
    const phone = await loginFrom(b, PHONE);
    await loginFrom(a, LAPTOP, BOB);

    const sessions = await listOf(phone, a);
    assert.deepEqual(sessions.map((s) => [s.device, s.current]).sort(), [
      ['Chrome on Linux', false],
      ['Safari on iPhone', true],
    ]);
    for (const session of sessions) {
      assert.match(session.id, /^[\w-]{22}$/);
      for (const sid of [laptop.sessionId()!, phone.sessionId()!]) {
        for (const part of sid.split('.')) assert.ok(!session.id.includes(part), 'the handle is not made of the session id');
      }
      assert.ok(Date.parse(session.createdAt) <= Date.parse(session.lastSeenAt) && Date.parse(session.lastSeenAt) <= Date.now());
    }
    // The same handles on every instance; anonymous callers are refused.
    assert.deepEqual((await listOf(phone, b)).map((s) => s.id).sort(), sessions.map((s) => s.id).sort());
    const anonymous = await createBrowser().on(a).get('/api/sessions');
    assert.equal(anonymous.status, 401);
    assert.equal((await createBrowser().on(a).get('/sessions')).headers.location, '/login');
    const page = await phone.on(b).get('/sessions');
    assert.match(page.text, /Chrome on Linux/);
    assert.match(page.text, /Safari on iPhone <strong>\(this device\)<\/strong>/);
  });

  it('listed on A, revoked on B › the revoked cookie is anonymous on both at once; the revoker stays', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
    const laptop = await loginFrom(a, LAPTOP);
    const phone = await loginFrom(a, PHONE);
    const target = (await listOf(phone, a)).find((s) => !s.current)!;

    const _csrf = await phone.csrfToken(b);
    await redis.admin.configResetStat();
    const revoked = await phone.on(b).post(`/sessions/${target.id}/revoke`, { _csrf, password: ALICE.password });
    assert.equal(revoked.status, 303);
    assert.equal(revoked.headers.location, '/sessions');
    // The handle is matched inside the script: the revoke is one script, one round trip (the other: the session's read).
    assert.match(await redis.admin.info('commandstats'), /cmdstat_eval:calls=2,/);
    assert.equal(await authenticated(laptop, a), false);
    assert.equal(await authenticated(laptop, b), false);
    assert.equal(await authenticated(phone, a), true);
    assert.equal((await listOf(phone, a)).length, 1);
    // Its browser sees the login page, not an error.
    assert.equal((await laptop.on(b).get('/sessions')).headers.location, '/login');
  });

  it('ending sessions asks for the password: wrong 401 (counted by the login throttle), unknown or foreign handle 404, anonymous 401', async (t) => {
    const { a } = await startTwoInstances(t, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' });
    const laptop = await loginFrom(a, LAPTOP);
    const phone = await loginFrom(a, PHONE);
    const bob = await loginFrom(a, LAPTOP, BOB);
    const target = (await listOf(phone, a)).find((s) => !s.current)!;
    const bobs = (await listOf(bob, a))[0]!;

    assert.equal((await post(phone, a, `/sessions/${bobs.id}/revoke`, { password: ALICE.password })).status, 404);
    assert.equal((await post(phone, a, `/sessions/${'x'.repeat(22)}/revoke`, { password: ALICE.password })).status, 404);
    assert.equal((await post(phone, a, '/sessions/not-a-handle/revoke', { password: ALICE.password })).status, 404);
    assert.equal(await authenticated(bob, a), true, "a foreign handle ends nobody's session");
    const anonymous = createBrowser();
    assert.equal((await post(anonymous, a, `/sessions/${target.id}/revoke`, { password: ALICE.password })).status, 401);
    assert.equal((await post(anonymous, a, '/sessions/revoke-others', { password: ALICE.password })).status, 401);
    assert.equal((await post(phone, a, `/sessions/${target.id}/revoke`, { password: 'wrong-password' })).status, 401);
    assert.equal((await post(phone, a, '/sessions/revoke-others', { password: 'wrong-password' })).status, 401);
    assert.equal((await post(phone, a, '/sessions/revoke-all', { password: 'wrong-again' })).status, 401);
    assert.equal((await post(phone, a, '/sessions/revoke-all', { password: '' })).status, 400);
    assert.equal(await authenticated(laptop, a), true, 'nothing ended without the password');
    // Three wrong passwords so far (the limit): the next attempt is throttled, even with the right one.
    const throttled = await post(phone, a, '/sessions/revoke-others', { password: ALICE.password });
    assert.equal(throttled.status, 429);
    assert.ok(Number(throttled.headers['retry-after']) > 0);
  });

  it('"log out all other sessions" keeps this one; "log out everywhere" ends this one too and goes home', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
    const [laptop, tablet] = [await loginFrom(a, LAPTOP), await loginFrom(b, LAPTOP)];
    const phone = await loginFrom(a, PHONE);

    assert.equal((await post(phone, b, '/sessions/revoke-others', { password: ALICE.password })).status, 303);
    for (const browser of [laptop, tablet]) assert.equal(await authenticated(browser, a), false);
    assert.deepEqual(
      (await listOf(phone, a)).map((s) => s.current),
      [true],
    );

    const other = await loginFrom(b, LAPTOP);
    const all = await post(phone, a, '/sessions/revoke-all', { password: ALICE.password });
    assert.deepEqual([all.status, all.headers.location], [303, '/']);
    for (const browser of [phone, other]) assert.equal(await authenticated(browser, b), false);
    assert.deepEqual(await redis.admin.keys(`${INDEX_PREFIX}*`), [], 'every entry removed with its session');
  });

  it('a login beyond MAX_SESSIONS_PER_USER ends the oldest session', async (t) => {
    const { redis, a } = await startTwoInstances(t, { MAX_SESSIONS_PER_USER: '3' });
    const browsers: Browser[] = [];
    for (let i = 0; i < 4; i++) browsers.push(await loginFrom(a, LAPTOP));
    assert.equal(await authenticated(browsers[0]!, a), false, 'the oldest ended');
    for (const browser of browsers.slice(1)) assert.equal(await authenticated(browser, a), true);
    assert.equal((await listOf(browsers[3]!, a)).length, 3);
    assert.equal((await redis.admin.keys(`${INDEX_PREFIX}*`)).length, 1);
    // One user's keys share one Redis Cluster hash slot (the scripts touch them together); another user's need not.
    const bob = await loginFrom(a, LAPTOP, BOB);
    const bobsTag = bob.sessionId()!.split('.')[0]!;
    const aliceKeys = (await redis.admin.keys('sess*')).filter((key) => !key.includes(bobsTag));
    assert.equal(aliceKeys.length, 4);
    assert.deepEqual(new Set(aliceKeys.map(slotOf)).size, 1, aliceKeys.join(' '));
    assert.notEqual(slotOf(bob.sessionKey()), slotOf(aliceKeys[0]!));
  });

  it('races: concurrent logins at the cap end with exactly the cap; logins racing "log out everywhere" leave no unlisted session alive', async (t) => {
    // Concurrent logins of one account count as concurrent attempts for the throttle: room for them.
    const env = { MAX_SESSIONS_PER_USER: '5', LOGIN_MAX_FAILURES_PER_ACCOUNT: '100' };
    const { redis, a, b } = await startTwoInstances(t, env);
    const liveFields = async () => {
      const keys = await redis.admin.keys('sess:{*');
      return keys.map((key) => key.slice(key.indexOf('}') + 1)).sort();
    };
    const many = await Promise.all(Array.from({ length: 12 }, (_, i) => loginFrom(i % 2 ? a : b, LAPTOP)));
    const alive = await Promise.all(many.map((browser) => authenticated(browser, a)));
    assert.equal(alive.filter(Boolean).length, 5);
    assert.equal((await liveFields()).length, 5);

    const revoker = await loginFrom(a, PHONE);
    const [racing, revoked] = await Promise.all([
      Promise.all(Array.from({ length: 6 }, (_, i) => loginFrom(i % 2 ? a : b, LAPTOP))),
      post(revoker, b, '/sessions/revoke-all', { password: ALICE.password }),
    ]);
    assert.equal(revoked.status, 303);
    // Empty (every racing login came first, and all ended), Redis deletes the hash: nothing is listed then.
    const [index] = await redis.admin.keys(`${INDEX_PREFIX}*`);
    const listed = index ? (await redis.admin.hKeys(index)).sort() : [];
    // Every live session is listed and every listed one is alive; the browsers agree with Redis.
    assert.deepEqual(await liveFields(), listed);
    for (const browser of [...many, ...racing, revoker]) {
      const key = browser.sessionKey();
      assert.equal(await authenticated(browser, a), listed.includes(key.slice(key.indexOf('}') + 1)));
    }
  });

  it('a slow request racing a revoke cannot bring the session back (SET … XX)', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
    const slow = createSlowSessionWriter(a, (session) => {
      session.theme = 'dark';
    });
    const laptop = await loginFrom(a, LAPTOP);
    const phone = await loginFrom(b, PHONE);
    const target = (await listOf(phone, a)).find((s) => !s.current)!;

    const slowRequest = slow.post(laptop.jar.header());
    await slow.loaded;
    assert.equal((await post(phone, b, `/sessions/${target.id}/revoke`, { password: ALICE.password })).status, 303);
    slow.release();
    assert.equal((await slowRequest).status, 200);
    assert.equal(await redis.admin.exists(laptop.sessionKey()), 0, 'the revoked session was written back');
    assert.equal(await authenticated(laptop, a), false);
  });

  it('entries of sessions that expired by TTL are pruned and never listed as alive', async (t) => {
    const { redis, a } = await startTwoInstances(t, { SESSION_IDLE_TIMEOUT_S: '1' });
    const first = await loginFrom(a, LAPTOP);
    await loginFrom(a, PHONE);
    await waitFor(async () => (await redis.admin.exists(first.sessionKey())) === 0, { what: 'expiry', timeoutMs: 5000 });
    await waitFor(async () => (await redis.admin.keys('sess:{*')).length === 0, { what: 'both expired', timeoutMs: 5000 });
    const index = (await redis.admin.keys(`${INDEX_PREFIX}*`))[0]!;
    assert.equal(await redis.admin.hLen(index), 2, 'the dead entries are still there before a script sees them');
    const fresh = await loginFrom(a, LAPTOP);
    assert.equal(await redis.admin.hLen(index), 1, 'the login pruned them');
    assert.deepEqual(
      (await listOf(fresh, a)).map((s) => s.current),
      [true],
    );
  });

  it('a session past its absolute timeout is not listed, though reads slid its TTL, and listing ends it', async (t) => {
    const { redis, a, b } = await startTwoInstances(t, { SESSION_ABSOLUTE_TIMEOUT_S: '4' });
    const laptop = await loginFrom(a, LAPTOP);
    const loggedInAt = Date.now();
    // A read slides the key's TTL back to the idle timeout (30 min), past the absolute one.
    assert.equal(await authenticated(laptop, b), true);
    assert.ok((await redis.admin.ttl(laptop.sessionKey())) > 4);
    // A later login keeps the user's index alive (its TTL: the absolute timeout from the latest login).
    await waitFor(async () => Date.now() > loggedInAt + 2000, { what: 'two seconds', timeoutMs: 5000 });
    const phone = await loginFrom(b, PHONE);
    // The index keeps login times in whole seconds: past the laptop's, plus the absolute timeout.
    const index = (await redis.admin.keys(`${INDEX_PREFIX}*`))[0]!;
    const loginS = parseInt((await redis.admin.hGet(index, laptop.sessionId()!.split('.')[1]!))!.split(' ')[0]!, 36);
    await waitFor(async () => Date.now() / 1000 >= loginS + 4, { what: 'the absolute timeout passed', timeoutMs: 5000 });
    assert.deepEqual(
      (await listOf(phone, a)).map((s) => [s.device, s.current]),
      [['Safari on iPhone', true]],
    );
    assert.equal(await redis.admin.exists(laptop.sessionKey()), 0, 'the listing ended it');
  });

  it("a session id's tag is keyed by the secret › not a hash of the username alone, so a cookie cannot confirm a guessed name", async (t) => {
    const { redis, a } = await startTwoInstances(t);
    const other = await createInstance(t, redis, { SESSION_SECRET: 'another-secret-that-is-at-least-32-characters' });
    const tagOn = async (target: Instance) => (await loginFrom(target, LAPTOP)).sessionId()!.split('.')[0]!;
    const tag = await tagOn(a);
    assert.notEqual(tag, createHash('sha256').update(ALICE.username).digest('base64url').slice(0, 12));
    assert.notEqual(await tagOn(other), tag, 'the same tag under another secret');
    assert.equal(await tagOn(a), tag, 'one tag per user and secret: the index and the hash slot');
  });

  it('secret rotation › a session made under the old secret is listed and ended from one made under the new', async (t) => {
    const { redis } = await startTwoInstances(t);
    const OLD = 'old-secret-that-is-at-least-32-characters';
    const before = await createInstance(t, redis, { SESSION_SECRET: OLD });
    const after = await createInstance(t, redis, { SESSION_SECRET: `new-secret-that-is-at-least-32-characters,${OLD}` });
    const laptop = await loginFrom(before, LAPTOP);
    const phone = await loginFrom(after, PHONE);
    assert.deepEqual((await listOf(phone, after)).map((s) => [s.device, s.current]).sort(), [
      ['Chrome on Linux', false],
      ['Safari on iPhone', true],
    ]);
    assert.equal((await post(phone, after, '/sessions/revoke-others', { password: ALICE.password })).status, 303);
    assert.equal(await authenticated(laptop, after), false);
    assert.equal(await authenticated(phone, after), true);
  });

  it('logout removes its entry at once, in the same script as the key', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
    const laptop = await loginFrom(a, LAPTOP);
    await loginFrom(a, PHONE);
    const index = (await redis.admin.keys(`${INDEX_PREFIX}*`))[0]!;
    assert.equal(await redis.admin.hLen(index), 2);
    assert.equal((await laptop.logout(b)).status, 303);
    assert.equal(await redis.admin.hLen(index), 1);
  });

  it('listing prunes the entry of a session its TTL ended, as logins do', async (t) => {
    const { redis, a } = await startTwoInstances(t);
    const laptop = await loginFrom(a, LAPTOP);
    const phone = await loginFrom(a, PHONE);
    await redis.admin.pExpire(laptop.sessionKey(), 1);
    await waitFor(async () => (await redis.admin.exists(laptop.sessionKey())) === 0, { what: 'expiry' });
    const index = (await redis.admin.keys(`${INDEX_PREFIX}*`))[0]!;
    assert.equal(await redis.admin.hLen(index), 2);
    assert.deepEqual(
      (await listOf(phone, a)).map((s) => s.device),
      ['Safari on iPhone'],
    );
    assert.equal(await redis.admin.hLen(index), 1, 'the listing pruned it');
  });

  it('"last active" is read from the TTL a read slides once a minute: correct to the minute, no write per request', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
    const laptop = await loginFrom(a, LAPTOP);
    const phone = await loginFrom(a, PHONE);
    const idleMs = a.config.session.idleTimeoutS * 1000;
    // Both logged in ten minutes ago and last read five minutes ago, as their index entries and TTLs tell it (waiting
    // five minutes is not a test).
    const index = (await redis.admin.keys(`${INDEX_PREFIX}*`))[0]!;
    for (const [field, entry] of Object.entries(await redis.admin.hGetAll(index))) {
      const loggedIn = Math.floor((Date.now() - 600_000) / 1000).toString(36);
      await redis.admin.hSet(index, field, `${loggedIn} ${entry.split(' ')[1]}`);
    }
    for (const browser of [laptop, phone]) await redis.admin.pExpire(browser.sessionKey(), idleMs - 300_000);
    const readAt = Date.now();
    assert.equal(await authenticated(laptop, b), true);
    const listedAt = async () => {
      const listed = await listOf(await loginFrom(b, TABLET), a);
      return (device: string) => Date.parse(listed.find((s) => s.device === device)!.lastSeenAt);
    };
    const lastSeen = await listedAt();
    // The laptop's read slid its TTL back to the idle timeout; the phone's session was last used five minutes ago.
    assert.ok(Math.abs(lastSeen('Chrome on Linux') - readAt) < 500, `laptop: ${lastSeen('Chrome on Linux') - readAt} ms`);
    assert.ok(readAt - lastSeen('Safari on iPhone') >= 1000, `phone: ${readAt - lastSeen('Safari on iPhone')} ms`);
    assert.ok(Math.abs(readAt - 300_000 - lastSeen('Safari on iPhone')) < 2000, 'phone: five minutes ago');
    // A read 50 s after the last slide does not slide it: "last active" still says 50 s ago, within the minute.
    await redis.admin.pExpire(laptop.sessionKey(), idleMs - 50_000);
    const secondReadAt = Date.now();
    assert.equal(await authenticated(laptop, b), true);
    const sinceRead = secondReadAt - (await listedAt())('Chrome on Linux');
    assert.ok(sinceRead >= 49_000 && sinceRead < 60_000, `laptop: ${sinceRead} ms before its last read`);
  });

  it('memory: an index entry costs at most 64 bytes (MEMORY USAGE), plus one small key per user', async (t) => {
    const { redis, a } = await startTwoInstances(t, { MAX_SESSIONS_PER_USER: '10' });
    const sizes: number[] = [];
    for (let i = 0; i < 10; i++) {
      await loginFrom(a, i % 2 ? LAPTOP : PHONE);
      const index = (await redis.admin.keys(`${INDEX_PREFIX}*`))[0]!;
      sizes.push((await redis.admin.memoryUsage(index, { SAMPLES: 0 }))!);
    }
    const perEntry = (sizes[9]! - sizes[0]!) / 9;
    t.diagnostic(`index: ${sizes[0]} B with one entry, ${sizes[9]} B with ten: ${perEntry.toFixed(1)} B per entry`);
    assert.ok(perEntry <= 64, `${perEntry} B per entry`);
  });

  it('Redis away: listing and ending sessions answer 503 with Retry-After, never a false success', async (t) => {
    const { redis, a } = await startTwoInstances(t, {}, { ownRedis: true });
    const phone = await loginFrom(a, PHONE);
    const _csrf = await phone.csrfToken(a);
    await redis.kill();
    await waitFor(async () => (await supertest(a.app).get('/readyz')).status === 503, { what: 'the instance to notice' });
    for (const res of [
      await phone.on(a).get('/api/sessions'),
      await phone.on(a).post('/sessions/revoke-others', { _csrf, password: ALICE.password }),
    ]) {
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '1');
    }
  });
});
