import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import supertest from 'supertest';
import { createBrowser } from '../helpers/browser.ts';
import { startTwoInstances } from '../helpers/instance.ts';

describe('bad input', () => {
  it('a body over the limit › 413', async (t) => {
    const { a } = await startTwoInstances(t);
    const res = await supertest(a.app)
      .post('/login')
      .type('form')
      .send(`username=${'x'.repeat(20_000)}`);
    assert.equal(res.status, 413);
    assert.doesNotMatch(res.text, /at \w+ \(|node_modules/);
  });

  it('too many form fields › 400, as the public contract says', async (t) => {
    const { a } = await startTwoInstances(t);
    const fields = Array.from({ length: 50 }, (_, i) => `f${i}=x`).join('&');
    const res = await supertest(a.app).post('/login').set('Accept', 'application/json').type('form').send(fields);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'The request has too many fields.' });
  });

  it('malformed JSON › 400 in JSON, without a stack trace', async (t) => {
    const { a } = await startTwoInstances(t);
    const res = await supertest(a.app).post('/login').set('Accept', 'application/json').type('json').send('{"username":');
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'The request body is malformed.' });
  });

  it('an unsupported charset › 415', async (t) => {
    const { a } = await startTwoInstances(t);
    const res = await supertest(a.app)
      .post('/login')
      .set('Content-Type', 'application/x-www-form-urlencoded; charset=koi8-r')
      .send('a=b');
    assert.equal(res.status, 415);
  });

  it('unknown paths › 404 as HTML or JSON, as the client asked', async (t) => {
    const { a } = await startTwoInstances(t);
    const html = await supertest(a.app).get('/nope').set('Accept', 'text/html');
    assert.equal(html.status, 404);
    assert.match(String(html.headers['content-type']), /html/);
    const json = await supertest(a.app).get('/nope').set('Accept', 'application/json');
    assert.equal(json.status, 404);
    assert.deepEqual(Object.keys(json.body), ['error']);
    assert.equal((await supertest(a.app).get('/api/nope')).headers['content-type']?.startsWith('application/json'), true);
  });

  it('non-string form fields › 400, never a 500', async (t) => {
    const { a } = await startTwoInstances(t);
    const browser = createBrowser();
    const _csrf = await browser.csrfToken(a);
    const res = await supertest(a.app)
      .post('/login')
      .set('Cookie', browser.jar.header())
      .type('json')
      .send({ _csrf, username: ['alice'], password: { $gt: '' } });
    assert.equal(res.status, 400);
  });

  it('every response names its instance and carries security headers', async (t) => {
    const { a } = await startTwoInstances(t);
    const res = await supertest(a.app).get('/login');
    assert.equal(res.headers['x-instance-id'], 'app-a');
    assert.match(String(res.headers['content-security-policy']), /script-src 'self'/);
    assert.doesNotMatch(String(res.headers['content-security-policy']), /unsafe-inline/);
    assert.equal(res.headers['x-powered-by'], undefined);
    // Browsers then send our own origin with form posts (under no-referrer they send `Origin: null`).
    assert.equal(res.headers['referrer-policy'], 'same-origin');
    assert.doesNotMatch(res.text, /<script>|onclick=/);
  });
});
