import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBrowser } from '../helpers/browser.ts';
import { startTwoInstances } from '../helpers/instance.ts';

describe('GET /api/status (the dashboard’s live panel)', () => {
  it('names the primary by a label every instance shares, never by its address; anonymous callers get a 401', async (t) => {
    const { redis, a, b } = await startTwoInstances(t);
    assert.equal((await createBrowser().on(a).get('/api/status', { Accept: 'application/json' })).status, 401);
    const browser = createBrowser();
    await browser.login(a);
    const [fromA, fromB] = [(await browser.on(a).get('/api/status')).body, (await browser.on(b).get('/api/status')).body];
    const topology = process.env.TEST_REDIS === 'cluster' ? 'cluster' : 'single';
    assert.equal(fromA.redis.topology, topology);
    if (topology === 'single') assert.match(fromA.redis.primary, /^node-[\w-]{6}$/);
    assert.equal(fromA.redis.primary, fromB.redis.primary, 'instances name the same node alike');
    assert.equal(fromA.instance, 'app-a');
    const text = JSON.stringify([fromA, fromB]);
    for (const secret of ['127.0.0.1', String(redis.port), redis.appPassword])
      assert.equal(text.includes(secret), false, `the status reveals ${secret}`);
  });
});
