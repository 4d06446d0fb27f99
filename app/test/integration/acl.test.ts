import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import supertest from 'supertest';
import { createBrowser } from '../helpers/browser.ts';
import { createInstance } from '../helpers/instance.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { ALICE } from '../helpers/users.ts';

// Commands every client may send whatever its ACL says (Redis exempts them from command rules).
const EXEMPT = new Set(['auth', 'hello']);

describe('the shipped ACL and the app', () => {
  it('the `app` user is granted exactly the commands the app sends, no more', async (t) => {
    const redis = await startRedisServer(t);
    const { commands: rules } = (await redis.admin.aclGetUser('app'))!;
    const granted = new Set([...rules.matchAll(/\+([\w|]+)/g)].map(([, name]) => name!.toLowerCase()));
    await redis.admin.configResetStat();

    // Every path that talks to Redis: connect, readiness, a failed and a good login, read, write, logout (the
    // absolute timeout's read script and DEL are among these). Then a login attempt that WAITs for a replica as under
    // Sentinel (a lone node has none, so the WAIT times out after 20 ms and the attempt is refused, and taken back; a
    // cluster's shard has one).
    const a = await createInstance(t, redis);
    await supertest(a.app).get('/readyz').expect(200);
    const browser = createBrowser();
    const _csrf = await browser.csrfToken(a);
    await browser.on(a).post('/login', { _csrf, username: ALICE.username, password: 'wrong-password' });
    assert.equal((await browser.login(a)).status, 303);
    await browser.on(a).post('/preferences', { _csrf, theme: 'dark' });
    // "Your sessions": list, and end the others (a second login, so the index has an entry to prune or end).
    assert.equal((await createBrowser().login(a)).status, 303);
    await browser.on(a).get('/api/sessions');
    await browser.on(a).post('/sessions/revoke-others', { _csrf, password: ALICE.password });
    await browser.logout(a);
    const waiting = await createInstance(t, redis, { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '20' });
    assert.ok([303, 503].includes((await createBrowser().login(waiting)).status));

    const stats = await redis.admin.info('commandstats');
    // Sent by the test's admin user.
    const admin = new Set(['info', 'config|resetstat']);
    const sent = new Set(
      [...stats.matchAll(/cmdstat_([\w|]+):calls=/g)].map(([, name]) => name!).filter((name) => !admin.has(name)),
    );
    const missing = [...sent].filter((name) => !granted.has(name) && !EXEMPT.has(name));
    const unused = [...granted].filter((name) => !sent.has(name) && !EXEMPT.has(name));
    assert.deepEqual(missing, [], 'sent by the app but not granted');
    assert.deepEqual(unused, [], 'granted but never sent');
  });
});
