import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import supertest from 'supertest';
import { createBrowser } from '../helpers/browser.ts';
import { createInstance, startTwoInstances } from '../helpers/instance.ts';
import { createSlowSessionWriter } from '../helpers/slow-session-writer.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';

describe('session lifetime', () => {
  it('idle timeout › the key expires in Redis and the cookie becomes anonymous', async (t) => {
    const redis = await startRedisServer(t);
    const app = await createInstance(t, redis, { SESSION_IDLE_TIMEOUT_S: '1', SESSION_ABSOLUTE_TIMEOUT_S: '60' });
    const browser = createBrowser();
    await browser.login(app);
    const key = browser.sessionKey();
    assert.equal((await redis.admin.pTTL(key)) <= 1000, true);
    await waitFor(async () => (await redis.admin.exists(key)) === 0, { what: 'the idle session to expire' });
    const res = await browser.on(app).get('/api/session');
    assert.equal(res.body.authenticated, false);
    // The stale cookie is dropped, so the browser stops costing a lookup per request.
    assert.match(String(res.headers['set-cookie']), /sid=;.*Expires=Thu, 01 Jan 1970/);
    assert.equal(browser.jar.has('sid'), false);
  });

  it('idle timeout › reads keep a session alive past it; after the last read, it ends within it', async (t) => {
    const redis = await startRedisServer(t);
    const app = await createInstance(t, redis, { SESSION_IDLE_TIMEOUT_S: '1', SESSION_ABSOLUTE_TIMEOUT_S: '60' });
    const browser = createBrowser();
    await browser.login(app);
    const key = browser.sessionKey();
    // Reads for three idle timeouts: each slides the TTL once enough of it has run down (a thirtieth of a 1 s timeout).
    const start = Date.now();
    let lastRead = 0;
    await waitFor(
      async () => {
        assert.equal((await browser.on(app).get('/api/session')).body.authenticated, true, 'ended while in use');
        lastRead = Date.now();
        return lastRead - start >= 3000;
      },
      { what: 'three idle timeouts of reads', timeoutMs: 10_000, intervalMs: 100 },
    );
    await waitFor(async () => (await redis.admin.exists(key)) === 0, { what: 'the idle session to expire', intervalMs: 10 });
    const idleFor = Date.now() - lastRead;
    assert.ok(idleFor <= 1000 + 250, `ended ${idleFor} ms after the last read, the idle timeout is 1000 ms`);
  });

  it('absolute timeout › ends the session however active, counted from login', async (t) => {
    const redis = await startRedisServer(t);
    const app = await createInstance(t, redis, { SESSION_IDLE_TIMEOUT_S: '60', SESSION_ABSOLUTE_TIMEOUT_S: '2' });
    const browser = createBrowser();
    await browser.login(app);
    const loginAt = Date.now();
    const key = browser.sessionKey();
    // Stored with a TTL cut to what is left of the absolute timeout, not the 60 s idle timeout.
    assert.ok((await redis.admin.ttl(key)) <= 2);
    await waitFor(async () => (await browser.on(app).get('/api/session')).body.authenticated === false, {
      timeoutMs: 6000,
      intervalMs: 100,
      what: 'the absolute timeout',
    });
    const lasted = Date.now() - loginAt;
    assert.ok(lasted >= 1900 && lasted < 4000, `session lasted ${lasted} ms`);
    assert.equal(await redis.admin.exists(key), 0);
  });

  it('absolute timeout › enforced by the server even if the key outlived it', async (t) => {
    const redis = await startRedisServer(t);
    const app = await createInstance(t, redis, { SESSION_IDLE_TIMEOUT_S: '60', SESSION_ABSOLUTE_TIMEOUT_S: '3600' });
    const browser = createBrowser();
    await browser.login(app);
    const key = browser.sessionKey();
    // Rewrite the stored login time to 2 hours ago... and the instance runs with a 1 h absolute timeout.
    const stored = JSON.parse((await redis.admin.get(key))!);
    await redis.admin.set(key, JSON.stringify({ ...stored, loginAt: Date.now() - 2 * 3600_000 }), {
      expiration: { type: 'EX', value: 60 },
    });
    await redis.admin.configResetStat();
    const res = await browser.on(app).get('/api/session');
    assert.equal(res.body.authenticated, false);
    assert.equal(await redis.admin.exists(key), 0);
    // Anonymous from here, as after an expiry: no new session written, no new cookie.
    assert.doesNotMatch(String(res.headers['set-cookie'] ?? ''), /sid=s%3A/);
    assert.doesNotMatch(await redis.admin.info('commandstats'), /cmdstat_set:/);
  });
});

describe('no logout resurrection', () => {
  it('a slow request that loaded the session before logout and writes it after does not bring it back', async (t) => {
    const { redis, a } = await startTwoInstances(t);
    const slow = createSlowSessionWriter(a, (session) => {
      session.user = { username: `${session.user?.username}-changed` };
    });

    const browser = createBrowser();
    await browser.login(a);
    const key = browser.sessionKey();
    const cookie = `sid=${browser.jar.get('sid')}`;

    const slowRequest = slow.post(cookie);
    await slow.loaded;
    assert.equal((await browser.logout(a)).status, 303);
    assert.equal(await redis.admin.exists(key), 0);
    slow.release();
    assert.equal((await slowRequest).status, 200);

    assert.equal(await redis.admin.exists(key), 0, 'the logged-out session was written back');
    const replay = await supertest(a.app).get('/api/session').set('Cookie', cookie);
    assert.equal(replay.body.authenticated, false);
  });

  it('a modified session that still exists is written, with a refreshed TTL', async (t) => {
    const { redis, a } = await startTwoInstances(t);
    const browser = createBrowser();
    await browser.login(a);
    const key = browser.sessionKey();
    await redis.admin.expire(key, 100);
    const _csrf = await browser.csrfToken(a);
    const res = await browser.on(a).post('/preferences', { _csrf, theme: 'dark' });
    assert.equal(res.status, 303);
    assert.equal(JSON.parse((await redis.admin.get(key))!).theme, 'dark');
    assert.ok((await redis.admin.ttl(key)) > 1790);
  });
});
