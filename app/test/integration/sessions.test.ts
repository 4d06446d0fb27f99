import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionKey } from '../../src/keys.ts';
import { createBrowser } from '../helpers/browser.ts';
import { startTwoInstances } from '../helpers/instance.ts';
import { ALICE, BOB } from '../helpers/users.ts';

describe('sessions shared by two instances', () => {
  it('POST /login on A › 303 to / and the session is recognised on B with B’s instance id', async (t) => {
    const { a, b } = await startTwoInstances(t);
    const browser = createBrowser();
    const login = await browser.login(a);
    assert.equal(login.status, 303);
    assert.equal(login.headers.location, '/');
    assert.equal(login.headers['x-instance-id'], 'app-a');

    const onB = await browser.on(b).get('/api/session');
    assert.equal(onB.status, 200);
    assert.equal(onB.headers['x-instance-id'], 'app-b');
    assert.deepEqual(onB.body, { authenticated: true, user: { username: 'alice' }, instance: 'app-b' });
    const home = await browser.on(b).get('/');
    assert.match(home.text, /Signed in as <span data-testid="username">alice<\/span>/);
    assert.match(home.text, /app-b/);
  });

  it('stores the session compactly with the idle timeout as its TTL', async (t) => {
    const { redis, a } = await startTwoInstances(t);
    const browser = createBrowser();
    await browser.login(a);
    const key = browser.sessionKey();
    const stored = JSON.parse((await redis.admin.get(key)) ?? 'null');
    assert.deepEqual(Object.keys(stored).sort(), ['loginAt', 'user']);
    assert.deepEqual(stored.user, { username: 'alice' });
    const ttl = await redis.admin.ttl(key);
    assert.ok(ttl > 1790 && ttl <= 1800, `ttl ${ttl}`);
  });

  it('a read slides the idle timeout in the same round trip (one script), when a minute of it has run down', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
    const browser = createBrowser();
    await browser.login(a);
    const key = browser.sessionKey();
    await redis.admin.expire(key, 100);
    await redis.admin.configResetStat();
    const res = await browser.on(b).get('/api/session');
    assert.equal(res.body.authenticated, true);
    const stats = await redis.admin.info('commandstats');
    const calls = [...stats.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].filter(([, name]) => !['info', 'config'].includes(name!));
    // The script's own commands are counted too: one EVAL was sent.
    assert.deepEqual(calls.map(([, name, count]) => `${name}=${count}`).sort(), ['eval=1', 'expire=1', 'get=1', 'pttl=1']);
    assert.ok((await redis.admin.ttl(key)) > 1790);
  });

  it('the home page’s idle expiry is never later than the session’s, and at most a minute earlier', async (t) => {
    const { redis, a } = await startTwoInstances(t);
    const browser = createBrowser();
    await browser.login(a);
    const key = browser.sessionKey();
    // Last slid 50 s ago, as the TTL tells it: this read does not slide it, so the session ends 50 s before a full idle timeout.
    await redis.admin.pExpire(key, a.config.session.idleTimeoutS * 1000 - 50_000);
    const page = await browser.on(a).get('/');
    const expiresAt = Date.now() + (await redis.admin.pTTL(key));
    const shown = Date.parse(/data-testid="idle-expiry" datetime="([^"]+)"/.exec(page.text)![1]!);
    assert.ok(shown <= expiresAt && shown > expiresAt - 60_000, `shown ${shown - expiresAt} ms from the expiry`);
  });

  it('POST /login › rotates the session id (no fixation)', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
    const browser = createBrowser();
    await browser.login(a);
    const first = browser.sessionId();
    await browser.login(b, BOB);
    const second = browser.sessionId();
    assert.ok(first && second && first !== second);
    assert.equal(await redis.admin.exists(sessionKey(first!)), 0);
    assert.equal(await redis.admin.exists(sessionKey(second)), 1);
  });

  it('a validly signed session cookie planted before login (fixation) › replaced at login, and worth nothing after', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
    const attacker = createBrowser();
    assert.equal((await attacker.login(a, BOB)).status, 303);
    const plantedId = attacker.sessionId()!;
    const victim = createBrowser();
    victim.jar.set('sid', attacker.jar.get('sid')!);

    assert.equal((await victim.login(b, ALICE)).status, 303);
    assert.notEqual(victim.sessionId(), plantedId);
    assert.equal((await victim.on(a).get('/api/session')).body.user?.username, 'alice');
    assert.equal(await redis.admin.exists(sessionKey(plantedId)), 0);
    for (const instance of [a, b]) {
      assert.deepEqual((await attacker.on(instance).get('/api/session')).body.user, null, 'the planted id is logged in');
    }
  });

  it('POST /logout on B › deletes the key, clears the cookie, and the old cookie is anonymous on A', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
    const browser = createBrowser();
    await browser.login(a);
    const sid = browser.sessionId()!;
    const oldCookie = browser.jar.get('sid')!;
    const logout = await browser.logout(b);
    assert.equal(logout.status, 303);
    assert.match(String(logout.headers['set-cookie']), /sid=;.*Expires=Thu, 01 Jan 1970/);
    assert.equal(await redis.admin.exists(sessionKey(sid)), 0);

    const replay = createBrowser();
    replay.jar.set('sid', oldCookie);
    for (const instance of [a, b]) {
      const res = await replay.on(instance).get('/api/session');
      assert.equal(res.body.authenticated, false);
    }
  });

  it('anonymous visitors, bots and probes create no sessions', async (t) => {
    const { redis, a } = await startTwoInstances(t);
    const browser = createBrowser();
    for (const path of ['/', '/login', '/api/session', '/healthz', '/readyz', '/nope']) await browser.on(a).get(path);
    assert.equal(await redis.admin.dbSize(), 0);
    assert.equal(browser.jar.has('sid'), false);
  });

  it('GET /api/session › anonymous contract', async (t) => {
    const { a } = await startTwoInstances(t);
    const res = await createBrowser().on(a).get('/api/session');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { authenticated: false, user: null, instance: 'app-a' });
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  it('a forged or tampered cookie is treated as anonymous, never an error', async (t) => {
    const { a, b } = await startTwoInstances(t);
    const browser = createBrowser();
    await browser.login(a);
    const [, id] = /^(s%3A[^.]+)\.(.*)$/.exec(browser.jar.get('sid')!)!;
    for (const forged of [`${id}.tampered`, 's%3Anot-a-session.AAAA', '%E0%A4%A', 'x'.repeat(4000)]) {
      const res = await createBrowser()
        .on(b)
        .get('/api/session', { Cookie: `sid=${forged}` });
      assert.equal(res.status, 200, forged);
      assert.equal(res.body.authenticated, false);
    }
  });

  it('renders user input escaped (template auto-escaping)', async (t) => {
    const { a } = await startTwoInstances(t);
    const browser = createBrowser();
    const _csrf = await browser.csrfToken(a);
    const res = await browser.on(a).post('/login', { _csrf, username: '<script>x</script>', password: 'whatever1' });
    assert.equal(res.status, 401);
    assert.doesNotMatch(res.text, /<script>x<\/script>/);
    assert.match(res.text, /&lt;script&gt;/);
  });
});
