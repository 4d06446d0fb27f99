import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import supertest from 'supertest';
import { createSessions } from '../../src/session.ts';
import { createBrowser } from '../helpers/browser.ts';
import { createInstance, startTwoInstances } from '../helpers/instance.ts';

// Reads (GET, HEAD, OPTIONS: reads.ts) do not go through express-session (app/src/session.ts): what it would do, they must still do.
describe('the read path', () => {
  it('a logged-in GET costs one round trip (the read script), writes nothing within the minute, and sets no cookie', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
    const browser = createBrowser();
    await browser.login(a);
    await redis.admin.configResetStat();
    // Redis's count of writes (summed over the primaries when TEST_REDIS=cluster: the helper joins their INFO).
    const writes = async () =>
      [...(await redis.admin.info('persistence')).matchAll(/rdb_changes_since_last_save:(\d+)/g)].reduce(
        (sum, [, count]) => sum + Number(count),
        0,
      );
    const before = await writes();
    const res = await browser.on(a).get('/api/session');
    assert.equal(res.body.user.username, 'alice');
    assert.equal(res.headers['set-cookie'], undefined);
    const stats = await redis.admin.info('commandstats');
    assert.match(stats, /cmdstat_eval:calls=1,/);
    assert.doesNotMatch(stats, /cmdstat_(set|expire|getex):/);
    for (let i = 0; i < 50; i++) {
      assert.equal((await browser.on(i % 2 ? a : b).get('/api/session')).body.authenticated, true);
    }
    assert.equal((await writes()) - before, 0, 'logged-in reads wrote to Redis');
  });

  it('a session cookie signed with an older secret still reads (rotation), one signed by none is anonymous', async (t) => {
    const own = { ownRedis: true };
    const { a } = await startTwoInstances(t, { SESSION_SECRET: 'old-secret-that-is-at-least-32-characters-long' }, own);
    const browser = createBrowser();
    await browser.login(a);
    const rotated = await startTwoInstances(
      t,
      { SESSION_SECRET: 'new-secret-that-is-at-least-32-characters-long,old-secret-that-is-at-least-32-characters-long' },
      own,
    );
    const other = await startTwoInstances(t, { SESSION_SECRET: 'new-secret-that-is-at-least-32-characters-long' }, own);
    // The same Redis is not shared across these pairs, so only the signature check is under test: a valid one is
    // looked up (and found missing: the cookie is cleared), an invalid one is not even looked up (nothing cleared).
    assert.match(String((await browser.on(rotated.a).get('/api/session')).headers['set-cookie']), /sid=;/);
    const foreign = await browser.on(other.a).get('/api/session');
    assert.equal(foreign.body.authenticated, false);
    assert.equal(foreign.headers['set-cookie'], undefined);
  });

  it('a session cookie signed with an older secret › re-issued under the newest on a read, then valid where only the newest is', async (t) => {
    const OLD = 'old-secret-that-is-at-least-32-characters-long';
    const NEW = 'new-secret-that-is-at-least-32-characters-long';
    const { redis, a } = await startTwoInstances(t, { SESSION_SECRET: OLD });
    const rotated = await createInstance(t, redis, { SESSION_SECRET: `${NEW},${OLD}` });
    const newOnly = await createInstance(t, redis, { SESSION_SECRET: NEW });
    const browser = createBrowser();
    await browser.login(a);
    const before = browser.jar.get('sid');
    const id = browser.sessionId();
    assert.equal(
      (await browser.on(newOnly).get('/api/session')).body.authenticated,
      false,
      'the old cookie under the new secret only',
    );
    const reissued = await browser.on(rotated).get('/api/session');
    assert.equal(reissued.body.user.username, 'alice');
    assert.match(String(reissued.headers['set-cookie']), /^sid=s%3A[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
    assert.notEqual(browser.jar.get('sid'), before, 'the cookie was signed again');
    assert.equal(browser.sessionId(), id, 'the same session');
    assert.equal((await browser.on(newOnly).get('/api/session')).body.user.username, 'alice', 'valid under the newest alone');
    assert.equal(
      (await browser.on(rotated).get('/api/session')).headers['set-cookie'],
      undefined,
      'signed once, not on every read',
    );
  });

  it('the session a GET sees is frozen: a write during a read fails loudly (500) instead of being lost', async (t) => {
    const { a } = await startTwoInstances(t);
    const browser = createBrowser();
    await browser.login(a);
    const app = express();
    app.use(createSessions({ config: a.config, redis: a.redis }).middleware);
    app.get('/write-during-read', (req, res) => {
      req.session.theme = 'dark';
      res.sendStatus(200);
    });
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send(err.message);
    });
    const res = await supertest(app).get('/write-during-read').set('Cookie', browser.jar.header());
    assert.equal(res.status, 500);
    assert.match(res.text, /read.only|not extensible|Cannot add property/i);
  });

  it('OPTIONS is a read, as GET: a cookie whose session is gone is cleared, and nothing is written', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
    const browser = createBrowser();
    await browser.login(a);
    const cookie = browser.jar.header();
    assert.equal((await browser.logout(b)).status, 303);
    await redis.admin.configResetStat();
    const res = await supertest(a.app).options('/').set('Cookie', cookie);
    assert.ok(res.status < 300, `OPTIONS answered ${res.status}`);
    assert.match(String(res.headers['set-cookie']), /^sid=;/);
    assert.doesNotMatch(await redis.admin.info('commandstats'), /cmdstat_(set|del|expire|getex):/);
  });
});
