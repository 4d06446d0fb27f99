import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import supertest from 'supertest';
import { createBrowser } from '../helpers/browser.ts';
import { createInstance, startTwoInstances } from '../helpers/instance.ts';
import { ALICE } from '../helpers/users.ts';

describe('CSRF', () => {
  it('POST /login without a token › 403 and no session', async (t) => {
    const { redis, a } = await startTwoInstances(t);
    const browser = createBrowser();
    await browser.on(a).get('/login');
    const res = await browser.on(a).post('/login', ALICE);
    assert.equal(res.status, 403);
    assert.equal(await redis.admin.dbSize(), 0);
  });

  it('any method that is not a read (PROPFIND, PUT, DELETE…) without a token › 403 before anything is routed', async (t) => {
    const { a } = await startTwoInstances(t);
    const browser = createBrowser();
    await browser.login(a);
    for (const method of ['PROPFIND', 'PUT', 'DELETE', 'PATCH'])
      assert.equal(
        (
          await supertest(a.app)
            [method === 'PROPFIND' ? 'propfind' : (method.toLowerCase() as 'put')]('/preferences')
            .set('Cookie', browser.jar.header())
        ).status,
        403,
        method,
      );
  });

  it('POST /login with a token that does not match the cookie › 403', async (t) => {
    const { a } = await startTwoInstances(t);
    const victim = createBrowser();
    const attacker = createBrowser();
    const _csrf = await attacker.csrfToken(a);
    await victim.on(a).get('/login');
    assert.equal((await victim.on(a).post('/login', { _csrf, ...ALICE })).status, 403);
  });

  it('POST /logout from another site › 403 and the session survives', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
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
    assert.equal(await redis.admin.exists(browser.sessionKey()), 1);
  });

  it('a post from a sibling subdomain with a cookie and token pair of its own (cookie tossing) › 403', async (t) => {
    const { a } = await startTwoInstances(t);
    const attacker = createBrowser();
    const _csrf = await attacker.csrfToken(a);
    const headers = { Origin: 'http://evil.localhost:8080', Host: 'localhost:8080', 'Sec-Fetch-Site': 'same-site' };
    assert.equal((await attacker.on(a).post('/login', { _csrf, ...ALICE }, headers)).status, 403);
  });

  it('a same-origin browser post (Origin and Sec-Fetch-Site set) › accepted', async (t) => {
    const { a } = await startTwoInstances(t);
    const browser = createBrowser();
    const _csrf = await browser.csrfToken(a);
    const headers = { Origin: 'http://localhost:8080', Host: 'localhost:8080', 'Sec-Fetch-Site': 'same-origin' };
    assert.equal((await browser.on(a).post('/login', { _csrf, ...ALICE }, headers)).status, 303);
  });

  it('a token issued by one instance is accepted by another (shared secret, no server state)', async (t) => {
    const { a, b } = await startTwoInstances(t);
    const browser = createBrowser();
    const _csrf = await browser.csrfToken(a);
    assert.equal((await browser.on(b).post('/login', { _csrf, ...ALICE })).status, 303);
  });

  it('a token signed with a previous secret still verifies during rotation', async (t) => {
    const { redis, a } = await startTwoInstances(t);
    const old = 'test-secret-that-is-at-least-32-characters';
    const rotated = await createInstance(t, redis, { SESSION_SECRET: `a-brand-new-secret-of-32-characters-min,${old}` });
    const browser = createBrowser();
    await browser.login(a);
    assert.equal((await browser.on(rotated).get('/api/session')).body.authenticated, true);
    const _csrf = await browser.csrfToken(a);
    assert.equal((await browser.on(rotated).post('/logout', { _csrf })).status, 303);
  });
});
