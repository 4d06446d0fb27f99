import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBrowser, csrfTokenIn } from '../helpers/browser.ts';
import { createInstance, startTwoInstances } from '../helpers/instance.ts';
import { ALICE, BOB } from '../helpers/users.ts';

const HTTPS = { 'X-Forwarded-Proto': 'https' };
const cookies = (res: { headers: Record<string, unknown> }) =>
  ([] as string[]).concat((res.headers['set-cookie'] as string[]) ?? []);

describe('cookies over plain HTTP and behind an HTTPS proxy', () => {
  it('over HTTP › `sid` and `csrf`, HttpOnly, SameSite=Lax, Path=/, no Secure; a client claiming HTTPS is not believed', async (t) => {
    const { a } = await startTwoInstances(t);
    for (const headers of [{}, HTTPS]) {
      const login = await createBrowser().login(a, ALICE, headers);
      assert.equal(login.status, 303);
      const [sid] = cookies(login);
      assert.match(sid!, /^sid=s%3A.*; Path=\/; HttpOnly; SameSite=Lax$/);
    }
    const page = await createBrowser().on(a).get('/login', HTTPS);
    assert.match(cookies(page)[0]!, /^csrf=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
  });

  it('HTTPS through the trusted proxy › `__Host-sid` and `__Host-csrf`, Secure, Path=/, no Domain; the session works', async (t) => {
    const { redis } = await startTwoInstances(t);
    const proxied = await createInstance(t, redis, { TRUST_PROXY: '1' });
    const browser = createBrowser();
    const page = await browser.on(proxied).get('/login', HTTPS);
    assert.match(cookies(page)[0]!, /^__Host-csrf=[\w-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    const login = await browser.login(proxied, ALICE, HTTPS);
    assert.equal(login.status, 303);
    assert.match(cookies(login)[0]!, /^__Host-sid=s%3A.*; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    assert.equal((await browser.on(proxied).get('/api/session', HTTPS)).body.authenticated, true);

    // A plain `sid`, however validly signed, is not read over HTTPS: only this host, over HTTPS, can set `__Host-sid`.
    const planted = `sid=${browser.jar.get('__Host-sid')}`;
    assert.equal(
      (
        await createBrowser()
          .on(proxied)
          .get('/api/session', { ...HTTPS, Cookie: planted })
      ).body.authenticated,
      false,
    );
    const logout = await browser.logout(proxied, HTTPS);
    assert.match(cookies(logout)[0]!, /^__Host-sid=;.*Expires=Thu, 01 Jan 1970.*Secure/);
  });

  it('a planted duplicate session cookie (`sid=junk; sid=<valid>`) › the user stays logged in on reads and writes, and the cookie is kept', async (t) => {
    const { redis } = await startTwoInstances(t);
    const proxied = await createInstance(t, redis, { TRUST_PROXY: '1' });
    for (const [name, headers] of [
      ['sid', {}],
      ['__Host-sid', HTTPS],
    ] as const) {
      const browser = createBrowser();
      await browser.login(proxied, ALICE, headers);
      const valid = browser.jar.get(name)!;
      const _csrf = await browser.csrfToken(proxied, headers);
      const csrfName = name === 'sid' ? 'csrf' : '__Host-csrf';
      const csrf = `${csrfName}=${browser.jar.get(csrfName)}`;
      for (const cookie of [
        `${name}=junk; ${name}=${valid}`,
        `${name}=${valid}; ${name}=s%3Aforged.sig`,
        `${name}=junk; ${name}=${valid}; x=1`,
      ]) {
        const read = await createBrowser()
          .on(proxied)
          .get('/', { ...headers, Cookie: cookie });
        assert.match(read.text, /Signed in as/, cookie);
        const write = await createBrowser()
          .on(proxied)
          .post('/preferences', { _csrf, theme: 'dark' }, { ...headers, Cookie: `${cookie}; ${csrf}` });
        assert.equal(write.status, 303, `${cookie}: a write answered ${write.status}`);
        for (const res of [read, write])
          assert.deepEqual(
            cookies(res).filter((line) => line.startsWith(`${name}=`)),
            [],
            `${cookie} cleared the cookie`,
          );
      }
    }
  });

  it('a planted cookie we signed whose session is gone, before or after the live one › reads and writes use the live session and never clear it', async (t) => {
    const { a, b } = await startTwoInstances(t);
    const planter = createBrowser();
    await planter.login(a, BOB);
    const dead = planter.jar.get('sid')!;
    assert.equal((await planter.logout(b)).status, 303);
    const victim = createBrowser();
    await victim.login(a, ALICE);
    const live = victim.jar.get('sid')!;
    const _csrf = await victim.csrfToken(a);
    const csrf = `csrf=${victim.jar.get('csrf')}`;
    for (const [order, cookie] of [
      ['dead first', `sid=${dead}; sid=${live}; ${csrf}`],
      ['live first', `sid=${live}; sid=${dead}; ${csrf}`],
    ] as const) {
      const read = await createBrowser().on(b).get('/', { Cookie: cookie });
      assert.match(read.text, /Signed in as/, `${order}: a read`);
      assert.deepEqual(
        cookies(read).filter((line) => line.startsWith('sid=')),
        [],
        `${order}: a read cleared the cookie`,
      );
      const theme = order === 'dead first' ? 'dark' : 'light';
      const write = await createBrowser().on(a).post('/preferences', { _csrf, theme }, { Cookie: cookie });
      assert.equal(write.status, 303, `${order}: a write ${write.status} ${write.text}`);
      assert.deepEqual(
        cookies(write).filter((line) => line.startsWith('sid=')),
        [],
        `${order}: a write cleared the cookie`,
      );
      assert.match(
        (await victim.on(b).get('/')).text,
        new RegExp(`theme-${theme}`),
        `${order}: the write reached the live session`,
      );
    }
  });

  it('CSRF compares the whole origin, scheme included', async (t) => {
    const { redis, a } = await startTwoInstances(t);
    const proxied = await createInstance(t, redis, { TRUST_PROXY: '1' });
    const post = async (instance: typeof a, origin: string, headers: Record<string, string>) => {
      const browser = createBrowser();
      const _csrf = await browser.csrfToken(instance, headers);
      const host = { Host: 'localhost:8080', Origin: origin, ...headers };
      return (await browser.on(instance).post('/login', { _csrf, ...ALICE }, host)).status;
    };
    assert.equal(await post(a, 'http://localhost:8080', {}), 303);
    assert.equal(await post(a, 'https://localhost:8080', {}), 403, 'an https origin posting to the http site');
    assert.equal(await post(proxied, 'https://localhost:8080', HTTPS), 303);
    assert.equal(await post(proxied, 'http://localhost:8080', HTTPS), 403, 'an http origin posting to the https site');
    assert.equal(await post(a, 'http://localhost:8081', {}), 403, 'another port');
  });

  it('a malformed csrf cookie planted before the real one › the form still posts', async (t) => {
    const { a } = await startTwoInstances(t);
    const browser = createBrowser();
    const page = await browser.on(a).get('/login');
    const real = browser.jar.get('csrf')!;
    const res = await createBrowser()
      .on(a)
      .post('/login', { _csrf: csrfTokenIn(page.text)!, ...ALICE }, { Cookie: `csrf=junk; csrf=${real}` });
    assert.equal(res.status, 303);
  });
});
