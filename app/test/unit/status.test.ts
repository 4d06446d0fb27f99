import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import supertest from 'supertest';
import type { CacheResult } from '../../src/catalog/metrics.ts';
import type { Config } from '../../src/config.ts';
import { createRedisTopology, createStatusRouter } from '../../src/routes/status.ts';

const SENTINEL = {
  redis: { url: 'rediss://app@sessions:6379', sentinel: { name: 'sessions', nodes: [{ host: 'sentinel-1', port: 26379 }] } },
} as unknown as Pick<Config, 'redis'>;

/** The status router behind a logged-in session (what the session middleware would have set). */
function statusOf(
  topology: ReturnType<typeof createRedisTopology>,
  secret = 'a-secret-of-at-least-32-characters-long',
  cacheCounts?: () => Readonly<Record<CacheResult, number>>,
) {
  const app = express();
  app.use((req, _res, next) => {
    req.session = { user: { username: 'alice' } } as typeof req.session;
    next();
  });
  app.use(createStatusRouter({ instanceId: 'app-1', secret, redis: topology, ...(cacheCounts ? { cacheCounts } : {}) }));
  return async () => (await supertest(app).get('/api/status')).body;
}

describe('the live panel’s Redis primary', () => {
  it('a Sentinel group’s primary is unknown until the client names one; another primary gets another label, counted', async () => {
    const topology = createRedisTopology(SENTINEL);
    const status = statusOf(topology);
    assert.deepEqual((await status()).redis, { topology: 'sentinel', primary: null, primaryChanges: 0 });
    topology.switched('10.0.0.1:6379');
    const before = (await status()).redis;
    topology.switched('10.0.0.1:6379');
    assert.deepEqual((await status()).redis, before, 'the same primary named again is no change');
    topology.switched('10.0.0.2:6379');
    const after = (await status()).redis;
    assert.match(before.primary, /^node-[\w-]{6}$/);
    assert.notEqual(after.primary, before.primary);
    assert.deepEqual([before.primaryChanges, after.primaryChanges], [0, 1]);
  });

  it('the label is keyed by the secret: the same address under another secret gets another label', async () => {
    const labels = [];
    for (const secret of ['a-secret-of-at-least-32-characters-long', 'another-secret-of-at-least-32-characters']) {
      const topology = createRedisTopology(SENTINEL);
      topology.switched('10.0.0.1:6379');
      labels.push((await statusOf(topology, secret)()).redis.primary);
    }
    assert.notEqual(labels[0], labels[1]);
  });
});

describe('the live panel’s cache', () => {
  it('this instance’s product reads, hits (a stale copy served counts as one) and their ratio; none yet: no ratio; no catalogue: null', async () => {
    const counts = { hit: 0, miss: 0, stale: 0, error: 0 };
    const status = statusOf(createRedisTopology(SENTINEL), undefined, () => ({ ...counts }));
    assert.deepEqual((await status()).cache, { reads: 0, hits: 0, hitRatio: null });
    Object.assign(counts, { hit: 5, stale: 1, miss: 3, error: 1 });
    assert.deepEqual((await status()).cache, { reads: 10, hits: 6, hitRatio: 0.6 });
    assert.equal((await statusOf(createRedisTopology(SENTINEL))()).cache, null);
  });
});
