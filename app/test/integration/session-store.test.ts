import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import type { SessionData } from 'express-session';
import supertest from 'supertest';
import { SESSION_PREFIX } from '../../src/keys.ts';
import { SessionStore } from '../../src/session-store.ts';
import { sessionKey } from '../../src/keys.ts';
import { createSessions } from '../../src/session.ts';
import { createInstance } from '../helpers/instance.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

const IDLE_S = 1800;
const ABSOLUTE_S = 3600;
const COOKIE = { httpOnly: true, sameSite: 'lax', path: '/' } as const;

/** The store on a real redis-server, connected as the `app` user of the shipped ACL, as the app runs it. */
async function createStore(t: TestContext) {
  const redis = await startRedisServer(t);
  const { redis: sessionRedis } = await createInstance(t, redis);
  const store = new SessionStore({ redis: sessionRedis, idleTimeoutS: IDLE_S, absoluteTimeoutS: ABSOLUTE_S, cookie: COOKIE });
  return { redis, store };
}

const session = (data: object) => ({ cookie: { originalMaxAge: null }, ...data }) as unknown as SessionData;

// The checks of connect-redis's own store test (tj/connect-redis index_test.ts, lifecycleTest), run against this
// store. Where the store deliberately differs, the test name says "ours:" and how (session-store.ts says why).
describe('SessionStore, connect-redis’s store contract on the app’s ACL user', () => {
  it('set then get › the same session back; ours: created only when allowed (login), the cookie from config', async (t) => {
    const { store } = await createStore(t);
    const sess = session({ user: { username: 'alice' }, loginAt: Date.now() });
    await store.set('123', sess);
    assert.equal(await store.get('123'), null, 'ours: a plain set never creates a session (SET XX)');
    store.allowCreate(sess);
    await store.set('123', sess);
    const { cookie, ...data } = (await store.get('123'))!;
    assert.deepEqual(data, { user: { username: 'alice' }, loginAt: sess.loginAt });
    assert.deepEqual(cookie, { originalMaxAge: null, expires: null, ...COOKIE });
  });

  it('set › a TTL; ours: the idle timeout whatever the cookie says (connect-redis: a day, or the cookie’s expiry)', async (t) => {
    const { redis, store } = await createStore(t);
    const sess = session({ loginAt: Date.now(), cookie: { originalMaxAge: null, expires: new Date(Date.now() + 60_000) } });
    store.allowCreate(sess);
    await store.set('456', sess);
    const ttl = await redis.admin.ttl(`${SESSION_PREFIX}456`);
    assert.ok(ttl > IDLE_S - 10 && ttl <= IDLE_S, `ttl ${ttl}`);
  });

  it('touch › ours: sends nothing, the read already slid the TTL (connect-redis: EXPIRE per response)', async (t) => {
    const { redis, store } = await createStore(t);
    const sess = session({ loginAt: Date.now() });
    store.allowCreate(sess);
    await store.set('456', sess);
    await redis.admin.expire(`${SESSION_PREFIX}456`, 100);
    await redis.admin.configResetStat();
    await store.touch('456', sess);
    assert.doesNotMatch(await redis.admin.info('commandstats'), /cmdstat_(expire|eval|set)/);
    assert.ok((await redis.admin.ttl(`${SESSION_PREFIX}456`)) <= 100);
    await store.get('456');
    assert.ok((await redis.admin.ttl(`${SESSION_PREFIX}456`)) > IDLE_S - 10);
  });

  it('get › ours: slides the idle timeout only once a minute of it has run down, and writes nothing in between', async (t) => {
    const { redis, store } = await createStore(t);
    const key = `${SESSION_PREFIX}456`;
    const sess = session({ user: { username: 'alice' }, loginAt: Date.now() });
    store.allowCreate(sess);
    await store.set('456', sess);
    // Redis's count of writes (summed over the primaries when TEST_REDIS=cluster: the helper joins their INFO).
    const writes = async () =>
      [...(await redis.admin.info('persistence')).matchAll(/rdb_changes_since_last_save:(\d+)/g)].reduce(
        (sum, [, count]) => sum + Number(count),
        0,
      );
    // Read 59 s after the last slide (as the TTL tells it): still within the minute, so nothing is written.
    await redis.admin.pExpire(key, IDLE_S * 1000 - 59_000);
    const before = await writes();
    for (let i = 0; i < 20; i++) assert.equal((await store.get('456'))?.user.username, 'alice');
    assert.equal((await writes()) - before, 0, 'reads within the minute wrote');
    assert.ok((await redis.admin.pTTL(key)) <= IDLE_S * 1000 - 59_000, 'slid within the minute');
    // 61 s: one read slides it back to the whole idle timeout (one write), the next writes nothing again.
    await redis.admin.pExpire(key, IDLE_S * 1000 - 61_000);
    const slid = await writes();
    await store.get('456');
    assert.ok((await redis.admin.pTTL(key)) > IDLE_S * 1000 - 1000, 'not slid after a minute');
    await store.get('456');
    assert.equal((await writes()) - slid, 1);
  });

  it('get › ours: after any read, the session ends within the idle timeout, and at most a minute before it', async (t) => {
    const { redis, store } = await createStore(t);
    const key = `${SESSION_PREFIX}456`;
    const sess = session({ user: { username: 'alice' }, loginAt: Date.now() });
    store.allowCreate(sess);
    await store.set('456', sess);
    // However long since the last slide (the TTL run down by 0 s up to 29 min), a read leaves a TTL in that window.
    for (const sinceSlideS of [0, 10, 59, 60, 61, 300, 29 * 60]) {
      await redis.admin.pExpire(key, (IDLE_S - sinceSlideS) * 1000);
      const readAt = performance.now();
      await store.get('456');
      const ttlMs = await redis.admin.pTTL(key);
      // At the read, at least idle - 60 s was left; it has run down since by at most the time this took.
      const sinceRead = Math.ceil(performance.now() - readAt);
      assert.ok(ttlMs <= IDLE_S * 1000 && ttlMs >= (IDLE_S - 60) * 1000 - sinceRead, `${sinceSlideS} s: TTL ${ttlMs} ms`);
    }
  });

  it('destroy › the key is gone', async (t) => {
    const { redis, store } = await createStore(t);
    const sess = session({ loginAt: Date.now() });
    store.allowCreate(sess);
    await store.set('456', sess);
    await store.destroy('456');
    assert.equal(await redis.admin.exists(`${SESSION_PREFIX}456`), 0);
  });

  it('length, ids, all, clear › ours: refused loudly (connect-redis: SCAN and MGET, which the ACL denies)', async (t) => {
    const { store } = await createStore(t);
    for (const method of ['length', 'ids', 'all', 'clear'] as const) await assert.rejects(store[method]()!, /not supported/);
  });

  it('set of an expired session › the key is removed; ours: expired by the absolute timeout from login', async (t) => {
    const { redis, store } = await createStore(t);
    const sess = session({ loginAt: Date.now() });
    store.allowCreate(sess);
    await store.set('789', sess);
    await store.set('789', session({ loginAt: Date.now() - ABSOLUTE_S * 1000 }));
    assert.equal(await redis.admin.exists(`${SESSION_PREFIX}789`), 0);
  });

  it('errors reach promise-style and callback-style callers alike (Redis away › 503)', async (t) => {
    const { redis, store } = await createStore(t);
    await redis.kill();
    await assert.rejects(store.get('123')!, { status: 503 });
    const err = await new Promise((resolve) => store.destroy('123', resolve));
    assert.equal((err as { status?: number }).status, 503);
  });

  it('ours: creating a session whose id exists fails, rather than passing for a login', async (t) => {
    const { store } = await createStore(t);
    const first = session({ loginAt: Date.now() });
    store.allowCreate(first);
    await store.set('123', first);
    const second = session({ loginAt: Date.now() });
    store.allowCreate(second);
    await assert.rejects(store.set('123', second)!, /reused an existing id/);
  });
});

describe('sessions.login(req, user)', () => {
  it('one call › a new session id, the user and login time, created in Redis before it returns', async (t) => {
    const redis = await startRedisServer(t);
    const { config, redis: client } = await createInstance(t, redis);
    const sessions = createSessions({ config, redis: client });
    const app = express();
    app.use(sessions.middleware);
    app.post('/login', async (req, res) => {
      const before = req.sessionID;
      await sessions.login(req, 'alice');
      const stored = JSON.parse((await redis.admin.get(sessionKey(req.sessionID))) ?? 'null');
      res.json({ rotated: before !== req.sessionID, stored });
    });
    const { body } = await supertest(app).post('/login');
    assert.equal(body.rotated, true);
    assert.equal(body.stored.user.username, 'alice');
    assert.ok(Math.abs(body.stored.loginAt - Date.now()) < 5000);
  });
});
