import assert from 'node:assert/strict';
import { test } from 'node:test';
import supertest from 'supertest';
import { createMemcachedCacheStore } from '../../src/catalog/cache-store.ts';
import { createLogger } from '../../src/log.ts';
import { createMemcachedClient } from '../../src/catalog/memcached.ts';
import { createBrowser } from '../helpers/browser.ts';
import { createCatalogInstance } from '../helpers/catalog-instance.ts';
import { startMemcachedServers } from '../helpers/memcached-servers.ts';
import { startPostgresServer } from '../helpers/postgres-server.ts';
import { onCluster, startRedisServer } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';

// The catalogue with CACHE_ENGINE=memcached: three real memcached nodes (TLS, ASCII authentication), three app
// objects, one PostgreSQL. The same contract as on the cache Redis (catalog.test.ts), plus what is memcached's own:
// keys spread over nodes, and a node's outage costs only that node's share.
test('catalogue on memcached', { skip: onCluster && 'on PostgreSQL and memcached', timeout: 120_000 }, async (t) => {
  const postgres = await startPostgresServer(t);
  const memcached = await startMemcachedServers(t, 3);
  const sessions = await startRedisServer(t);
  const env = {
    CACHE_ENGINE: 'memcached',
    CACHE_MEMCACHED_SERVERS: memcached.servers,
    CACHE_MEMCACHED_PASSWORD: memcached.password,
    CACHE_MEMCACHED_TLS_CA_FILE: memcached.caFile,
  };
  const servers = { postgres, sessionRedisUrl: sessions.url };
  const instances = await Promise.all(['app-a', 'app-b', 'app-c'].map((id) => createCatalogInstance(t, servers, id, env)));
  const [a, b, c] = instances as [(typeof instances)[0], (typeof instances)[0], (typeof instances)[0]];
  const dbQueries = () => instances.reduce((sum, instance) => sum + instance.metrics.dbQueries, 0);
  const get = (instance: typeof a, path: string) => supertest(instance.app).get(path);
  const nodeOf = (id: number) => a.cache.memcached!.nodeFor(`cache:product:v1:${id}`).server;
  /** Products 1..300 grouped by the node that holds them. */
  const byNode = new Map<string, number[]>();
  for (let id = 1; id <= 300; id++) byNode.set(nodeOf(id), [...(byNode.get(nodeOf(id)) ?? []), id]);

  await t.test('GET /api/products/:id › a miss loads from PostgreSQL once, then every instance hits', async () => {
    const before = dbQueries();
    assert.equal((await get(a, '/api/products/11')).headers['x-cache'], 'miss');
    // The store lands after the response (cache.ts, load): until then a's reads join its load, another instance's
    // would start one of its own. So wait for it on a, then every instance hits.
    await waitFor(async () => (await get(a, '/api/products/11')).headers['x-cache'] === 'hit', { what: 'a hit on a' });
    assert.equal((await get(b, '/api/products/11')).headers['x-cache'], 'hit');
    assert.equal((await get(c, '/api/products/11')).headers['x-cache'], 'hit');
    assert.equal(dbQueries() - before, 1);
  });

  await t.test('keys spread over all three nodes (consistent hashing), each with a fair share', () => {
    assert.equal(byNode.size, 3);
    for (const [node, ids] of byNode) assert.ok(ids.length > 60 && ids.length < 140, `${node}: ${ids.length} of 300 products`);
  });

  await t.test('POST /products/:id › an edit on one instance is served by every instance at once', async () => {
    await get(a, '/api/products/12');
    const browser = createBrowser();
    await browser.login(a);
    const _csrf = await browser.csrfToken(a);
    const saved = await browser.on(a).post('/products/12', { _csrf, name: 'Edited on memcached', price: '3.25' });
    assert.equal(saved.status, 303);
    for (const instance of instances) {
      const res = await get(instance, '/api/products/12');
      assert.equal(res.headers['x-cache'], 'hit', instance.instanceId);
      assert.equal(res.body.name, 'Edited on memcached', instance.instanceId);
    }
  });

  await t.test('the store › an older version never replaces a newer one (compare-and-swap)', async () => {
    const client = createMemcachedClient({
      servers: memcached.servers.split(','),
      tlsCa: a.catalogConfig.cache.memcached.tlsCa,
      auth: { username: 'cache', password: memcached.password },
      timeoutMs: 500,
      bypassMs: 1000,
      log: createLogger({ logLevel: 'silent', instanceId: 'test' }),
    });
    t.after(() => client.close());
    const store = createMemcachedCacheStore(client);
    const key = `cache:versioned:${Date.now()}`;
    assert.equal(await store.setIfNotOlder(key, JSON.stringify({ v: 4, d: 'four' }), 4, 60_000), true);
    assert.equal(await store.setIfNotOlder(key, JSON.stringify({ v: 3, d: 'three' }), 3, 60_000), false);
    assert.equal(JSON.parse((await store.get(key))!).d, 'four');
    assert.equal(await store.setIfNotOlder(key, JSON.stringify({ v: 5, d: 'five' }), 5, 60_000), true);
    assert.equal(JSON.parse((await store.get(key))!).d, 'five');
  });

  await t.test(
    'a node killed › only its products miss, every page 200 within the cache timeout; started again, it fills by itself',
    async () => {
      const [victim, others] = [memcached.nodes[0]!, memcached.nodes.slice(1)];
      const victimIds = byNode.get(victim.server)!.slice(0, 5);
      const otherIds = others.flatMap((node) => byNode.get(node.server)!.slice(0, 5));
      for (const id of [...victimIds, ...otherIds]) await get(a, `/api/products/${id}`);
      for (const id of [...victimIds, ...otherIds])
        await waitFor(async () => (await get(a, `/api/products/${id}`)).headers['x-cache'] === 'hit', {
          what: `product ${id} cached`,
        });

      await victim.kill();
      for (const id of otherIds)
        assert.equal((await get(a, `/api/products/${id}`)).headers['x-cache'], 'hit', `product ${id} on a live node`);
      for (const id of victimIds) {
        const started = performance.now();
        const res = await get(a, `/api/products/${id}`);
        assert.equal(res.status, 200);
        assert.equal(res.headers['x-cache'], 'miss', `product ${id} on the dead node`);
        assert.ok(performance.now() - started < 1000, `product ${id} answered in ${Math.round(performance.now() - started)} ms`);
      }

      await victim.start();
      await waitFor(
        async () => {
          await get(a, `/api/products/${victimIds[0]}`);
          return (await get(a, `/api/products/${victimIds[0]}`)).headers['x-cache'] === 'hit';
        },
        { what: 'the restarted node serving hits', timeoutMs: 5000, intervalMs: 200 },
      );
    },
  );

  await t.test('a node frozen › its products answer from PostgreSQL within the cache timeout; resumed, hits again', async () => {
    const victim = memcached.nodes[1]!;
    const id = byNode.get(victim.server)![0]!;
    await get(b, `/api/products/${id}`);
    await waitFor(async () => (await get(b, `/api/products/${id}`)).headers['x-cache'] === 'hit', {
      what: `product ${id} cached`,
    });
    victim.pause();
    const slowest = { ms: 0 };
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const res = await get(b, `/api/products/${id}`);
      slowest.ms = Math.max(slowest.ms, performance.now() - started);
      assert.equal(res.status, 200);
    }
    // One request waits the cache timeout (100 ms) and the node is skipped for a second; the rest do not wait.
    assert.ok(slowest.ms < 1000, `slowest ${Math.round(slowest.ms)} ms`);
    victim.resume();
    await waitFor(async () => (await get(b, `/api/products/${id}`)).headers['x-cache'] === 'hit', {
      what: 'the resumed node serving hits',
      timeoutMs: 5000,
      intervalMs: 200,
    });
  });

  await t.test('a wrong cache password › the cache is refused, every page still 200 from PostgreSQL', async () => {
    const wrong = await createCatalogInstance(t, servers, 'app-wrong', { ...env, CACHE_MEMCACHED_PASSWORD: 'not-the-password' });
    for (let i = 0; i < 3; i++) {
      const res = await get(wrong, '/api/products/13');
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-cache'], 'miss');
    }
  });
});
