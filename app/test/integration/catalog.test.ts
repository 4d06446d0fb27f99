import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { createClient } from 'redis';
import supertest from 'supertest';
import { startCacheRedisServer } from '../helpers/cache-redis-server.ts';
import { createCatalogInstance } from '../helpers/catalog-instance.ts';
import { createBrowser } from '../helpers/browser.ts';
import { startPostgresServer } from '../helpers/postgres-server.ts';
import { onCluster, startRedisServer } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';

// Three app objects, as three instances run them, over one real PostgreSQL, one cache Redis and one session Redis.
test('catalogue', { skip: onCluster && 'on PostgreSQL and the cache Redis' }, async (t) => {
  const postgres = await startPostgresServer(t);
  const cache = await startCacheRedisServer(t);
  const sessions = await startRedisServer(t);
  const servers = { postgres, cache, sessionRedisUrl: sessions.url };
  const instances = await Promise.all(['app-a', 'app-b', 'app-c'].map((id) => createCatalogInstance(t, servers, id)));
  const [a, b, c] = instances as [(typeof instances)[0], (typeof instances)[0], (typeof instances)[0]];
  const dbQueries = () => instances.reduce((sum, instance) => sum + instance.metrics.dbQueries, 0);
  const get = (instance = a, path: string) => supertest(instance.app).get(path);
  const entry = async (id: number) => JSON.parse((await cache.admin.get(`cache:product:v1:${id}`)) ?? 'null');
  /** Waits until an instance reads through the cache again (after an outage its client reconnects by itself). */
  const cacheInUse = (instance: typeof a, id: number) =>
    waitFor(
      async () => {
        await get(instance, `/api/products/${id}`);
        return (await get(instance, `/api/products/${id}`)).headers['x-cache'] === 'hit';
      },
      { timeoutMs: 5000, what: `${instance.instanceId} reading through the cache` },
    );
  /** Makes the cached entry of a product stale (past freshness, within grace), as time would. */
  const ageEntry = async (id: number) => {
    const key = `cache:product:v1:${id}`;
    const stored = await entry(id);
    await cache.admin.set(key, JSON.stringify({ ...stored, fresh: Date.now() - 1 }), { KEEPTTL: true });
  };

  await t.test('GET /api/products/:id › a miss loads from PostgreSQL once, then every instance hits', async () => {
    const before = dbQueries();
    const first = await get(a, '/api/products/1').expect(200);
    assert.equal(first.headers['x-cache'], 'miss');
    assert.equal(first.headers['x-instance-id'], 'app-a');
    assert.deepEqual(
      { id: first.body.id, name: first.body.name, instance: first.body.instance, cache: first.body.cache },
      { id: 1, name: 'Product 1', instance: 'app-a', cache: 'miss' },
    );
    assert.match(first.body.price, /^\d+\.\d\d$/);
    assert.equal(first.body.category.products > 0 && first.body.category.reviews > 0, true);
    // The store lands after the response (cache.ts, load): until then a's reads join its load, another instance's
    // would start one of its own. So wait for it on a, then every instance hits.
    await waitFor(async () => (await get(a, '/api/products/1')).headers['x-cache'] === 'hit', { what: 'a hit on a' });
    for (const instance of instances) {
      const res = await get(instance, '/api/products/1').expect(200);
      assert.equal(res.headers['x-cache'], 'hit');
      assert.equal(res.body.instance, instance.instanceId);
    }
    assert.equal(dbQueries() - before, 1);
    // TTL 300 s + up to 10 % jitter, plus 3600 s of grace; under the cache user's prefix.
    const ttl = await cache.admin.ttl('cache:product:v1:1');
    assert.ok(ttl > 3600 + 290 && ttl <= 3600 + 330, `ttl ${ttl}`);
    const stored = await entry(1);
    assert.ok(stored.fresh > Date.now() + 290_000 && stored.fresh <= Date.now() + 330_000);
  });

  await t.test('GET /products/:id › the page shows the product, the instance and how it was served', async () => {
    const miss = await get(b, '/products/2').expect(200).expect('X-Cache', 'miss');
    assert.match(miss.text, /data-testid="product-name">Product 2</);
    assert.match(miss.text, /data-testid="page-instance">app-b</);
    assert.match(miss.text, /data-testid="cache-state">X-Cache: miss</);
    const hit = await get(c, '/products/2').expect(200).expect('X-Cache', 'hit');
    assert.match(hit.text, /data-testid="cache-state">X-Cache: hit</);
    assert.match(hit.text, /Log in<\/a> to edit/);
  });

  await t.test('GET /products › lists products a page at a time; a bad page is a 400', async () => {
    const list = await get(a, '/products?page=2').expect(200);
    assert.match(list.text, /href="\/products\/51">Product 51</);
    assert.match(list.text, /Page 2 of 100/);
    await get(a, '/products?page=x').expect(400);
    await get(a, '/products?page=0').expect(400);
    await get(a, '/products?page=9999').expect(404);
  });

  await t.test('GET /api/products/:id › a non-integer id is a 400 without touching the database', async () => {
    const before = dbQueries();
    for (const id of ['abc', '1.5', '0', '-1', '01', '1e3', '99999999999', '2147483648', '%20']) {
      const res = await get(a, `/api/products/${id}`).expect(400);
      assert.match(res.body.error, /whole number/);
    }
    await get(a, '/products/abc').expect(400);
    assert.equal(dbQueries(), before);
  });

  await t.test('GET /api/products/:id › an unknown id is a 404, remembered briefly', async () => {
    const before = dbQueries();
    await get(a, '/api/products/999999').expect(404).expect('X-Cache', 'miss');
    await get(b, '/api/products/999999').expect(404).expect('X-Cache', 'hit');
    await get(c, '/products/999999').expect(404).expect('X-Cache', 'hit');
    assert.equal(dbQueries() - before, 1);
    const ttl = await cache.admin.pTTL('cache:product:v1:999999');
    assert.ok(ttl > 0 && ttl <= 10_000, `not-found ttl ${ttl} ms`);
  });

  await t.test('POST /products/:id › anonymous refused, bad values a clear 400, forged 403', async (st) => {
    const anonymous = createBrowser();
    const _csrf = await anonymous.csrfToken(a);
    const refused = await anonymous.on(a).post('/products/3', { _csrf, name: 'Hacked', price: '1.00' });
    assert.equal(refused.status, 401);
    const browser = createBrowser();
    assert.equal((await browser.login(a)).status, 303);
    const token = await browser.csrfToken(a);
    const forged = await browser.on(a).post('/products/3', { _csrf: 'forged', name: 'X', price: '1.00' });
    assert.equal(forged.status, 403);
    const cases: [Record<string, string>, RegExp][] = [
      [{ name: '', price: '1.00' }, /A name is required/],
      [{ name: 'x'.repeat(101), price: '1.00' }, /at most 100 characters/],
      [{ name: 'Bell\u0007', price: '1.00' }, /control characters/],
      [{ name: '\u200b\u200b', price: '1.00' }, /invisible/],
      [{ name: 'Lamp \u202egnp.exe', price: '1.00' }, /invisible/],
      [{ name: 'Two\u2028lines', price: '1.00' }, /invisible/],
      [{ name: 'Ok', price: 'free' }, /at most two decimals/],
      [{ name: 'Ok', price: '1.234' }, /at most two decimals/],
      [{ name: 'Ok', price: '0' }, /more than 0/],
      [{ name: 'Ok' }, /A price is required/],
    ];
    for (const [form, message] of cases) {
      const res = await browser.on(a).post('/products/3', { _csrf: token, ...form }, { Accept: 'application/json' });
      assert.equal(res.status, 400, JSON.stringify(form));
      assert.match(res.body.error, message);
    }
    const unknown = await browser.on(a).post('/products/999998', { _csrf: token, name: 'Ghost', price: '1.00' });
    assert.equal(unknown.status, 404);
    const client = new pg.Client({ connectionString: postgres.adminUrl });
    await client.connect();
    st.after(() => client.end());
    const { rows } = await client.query('SELECT name, version FROM products WHERE id = 3');
    assert.deepEqual(rows[0], { name: 'Product 3', version: 1 });
  });

  await t.test('POST /products/:id › an edit on one instance is served by every instance within 1 s', async () => {
    for (const instance of instances) await get(instance, '/api/products/4').expect(200);
    const browser = createBrowser();
    await browser.login(a);
    const _csrf = await browser.csrfToken(a);
    const saved = await browser.on(a).post('/products/4', { _csrf, name: 'Renamed <b>4</b>', price: '12.50' });
    assert.equal(saved.status, 303);
    assert.equal(saved.headers.location, '/products/4?saved=1');
    const savedAt = Date.now();
    // Written through, not invalidated: the very next read elsewhere is already a hit with the new value.
    const first = await get(c, '/api/products/4');
    assert.deepEqual([first.headers['x-cache'], first.body.name], ['hit', 'Renamed <b>4</b>']);
    for (const instance of [b, c]) {
      const res = await waitFor(
        async () => {
          const body = (await get(instance, '/api/products/4')).body;
          return body.name === 'Renamed <b>4</b>' && body;
        },
        { timeoutMs: 1000, what: `the edit on ${instance.instanceId}` },
      );
      assert.equal(res.price, '12.50');
      assert.equal(res.version, 2);
    }
    assert.ok(Date.now() - savedAt < 1000);
    const page = await browser.on(b).get('/products/4?saved=1');
    assert.match(page.text, /Renamed &lt;b&gt;4&lt;\/b&gt;/);
    assert.match(page.text, /role="status">Saved/);
    assert.match(page.text, /X-Cache: hit/);
  });

  await t.test('a refresh that read an older version cannot overwrite a newer cached one', async () => {
    await get(a, '/api/products/5').expect(200);
    const stored = await entry(5);
    // As if an edit elsewhere had written version 7 while this copy went stale.
    await cache.admin.set('cache:product:v1:5', JSON.stringify({ ...stored, v: 7, fresh: Date.now() - 1 }), { KEEPTTL: true });
    const loadsBefore = b.metrics.dbQueries;
    await get(b, '/api/products/5').expect(200).expect('X-Cache', 'stale');
    await waitFor(async () => b.metrics.dbQueries > loadsBefore, { what: 'the refresh query' });
    // The refresh stores its result right after the query; give it every chance to land.
    const overwritten = await waitFor(async () => (await entry(5)).v !== 7, { timeoutMs: 300 }).catch(() => false);
    assert.equal(overwritten, false, 'the older version overwrote the newer one');
    assert.equal((await entry(5)).v, 7);
  });

  await t.test('200 concurrent requests for one cold key across 3 instances: at most 1 query per instance', async () => {
    const before = instances.map((instance) => instance.metrics.dbQueries);
    const responses = await Promise.all(Array.from({ length: 200 }, (_, n) => get(instances[n % 3]!, '/api/products/6')));
    assert.ok(responses.every((res) => res.status === 200 && res.body.id === 6));
    const perInstance = instances.map((instance, n) => instance.metrics.dbQueries - before[n]!);
    assert.ok(
      perInstance.every((count) => count <= 1),
      `queries per instance: ${perInstance}`,
    );
    assert.ok(responses.filter((res) => res.headers['x-cache'] === 'miss').length >= 1);
  });

  await t.test('with a stale copy, no request waits for the database', async (st) => {
    await get(a, '/api/products/7').expect(200);
    // A cache read slower than CACHE_TIMEOUT_MS (the 200 requests above, on a loaded machine) makes an instance skip
    // the cache for a second, and the locked database would then answer these reads: wait until every instance reads
    // the cache again.
    for (const instance of instances)
      await waitFor(async () => (await get(instance, '/api/products/7')).headers['x-cache'] === 'hit', {
        what: `${instance.instanceId} reading the cache`,
      });
    await ageEntry(7);
    // Hold the costly query: it needs the reviews table, locked here until we let go.
    const locker = new pg.Client({ connectionString: postgres.adminUrl });
    await locker.connect();
    st.after(() => locker.end());
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE reviews IN ACCESS EXCLUSIVE MODE');
    const before = dbQueries();
    const started = Date.now();
    const responses = await Promise.all(Array.from({ length: 60 }, (_, n) => get(instances[n % 3]!, '/api/products/7')));
    const elapsed = Date.now() - started;
    assert.deepEqual(new Set(responses.map((res) => `${res.status} ${res.headers['x-cache']}`)), new Set(['200 stale']));
    assert.ok(elapsed < 1000, `60 stale reads took ${elapsed} ms with the database held`);
    assert.ok(dbQueries() - before <= 3, `refreshes started: ${dbQueries() - before}`);
    await locker.query('COMMIT');
    await waitFor(async () => (await get(a, '/api/products/7')).headers['x-cache'] === 'hit', { what: 'the refresh' });
  });

  await t.test('sessions › with the catalogue on, a logged-in read and a product page are one read script each', async () => {
    const browser = createBrowser();
    await browser.login(a);
    await get(c, '/api/products/22').expect(200);
    await sessions.admin.configResetStat();
    assert.equal((await browser.on(a).get('/api/session')).body.authenticated, true);
    const page = await browser.on(b).get('/products/22');
    assert.equal(page.status, 200);
    assert.match(page.text, /X-Cache: hit/);
    // The session Redis sees the session reads and nothing else: the product came from the other Redis.
    const stats = await sessions.admin.info('commandstats');
    assert.match(stats, /cmdstat_eval:calls=2,/);
    assert.deepEqual(
      [...stats.matchAll(/^cmdstat_(\w+(?:\|\w+)?):/gm)]
        .map((match) => match[1]!)
        .filter((name) => !['info', 'config|resetstat'].includes(name))
        .sort(),
      ['eval', 'get', 'pttl'],
    );
  });

  await t.test('the app role reads and edits products, and nothing else', async (st) => {
    const url = new URL(postgres.appUrl);
    url.password = postgres.appPassword;
    const app = new pg.Client({ connectionString: url.href });
    await app.connect();
    st.after(() => app.end());
    await assert.rejects(app.query('DELETE FROM products WHERE id = 8'), /permission denied/);
    await assert.rejects(app.query('UPDATE products SET category_id = 1 WHERE id = 8'), /permission denied/);
    await assert.rejects(app.query('CREATE TABLE t (x int)'), /permission denied/);
    await assert.rejects(app.query('SELECT * FROM schema_migrations'), /permission denied/);
    await assert.rejects(app.query('INSERT INTO reviews (product_id, rating) VALUES (8, 5)'), /permission denied/);
  });

  await t.test('the cache user touches its own keys only', async (st) => {
    const url = new URL(cache.url);
    url.password = cache.password;
    const client = createClient({ url: url.href, socket: { reconnectStrategy: false } });
    client.on('error', () => {});
    await client.connect();
    st.after(() => client.destroy());
    await assert.rejects(client.get('sess:someone'), /NOPERM/);
    await assert.rejects(client.flushAll(), /NOPERM/);
    await assert.rejects(client.keys('*'), /NOPERM/);
    assert.equal(await client.get('cache:nothing'), null);
    assert.equal(await cache.admin.configGet('maxmemory-policy').then((r) => r['maxmemory-policy']), 'allkeys-lfu');
  });

  await t.test('cache Redis frozen › pages 200 from the database, no request waits more than ~100 ms on it', async () => {
    const browser = createBrowser();
    await browser.login(a);
    cache.pause();
    for (const [n, instance] of instances.entries()) {
      const started = Date.now();
      const res = await get(instance, `/products/${10 + n}`).expect(200);
      assert.equal(res.headers['x-cache'], 'miss');
      assert.ok(Date.now() - started < 400, `first read with the cache frozen took ${Date.now() - started} ms`);
      // Then straight to the database for a while, not one more wait on the cache per request: ten reads take less
      // than ten cache timeouts (100 ms each) would.
      const next = Date.now();
      for (let read = 0; read < 10; read++)
        await get(instance, `/api/products/${10 + n}`)
          .expect(200)
          .expect('X-Cache', 'miss');
      assert.ok(Date.now() - next < 1000, `ten reads took ${Date.now() - next} ms`);
    }
    // Sessions live in the other Redis.
    const session = await browser.on(b).get('/api/session');
    assert.equal(session.body.authenticated, true);
    cache.resume();
    for (const instance of instances) await cacheInUse(instance, 13);
  });

  await t.test(
    'cache Redis frozen › 60 concurrent reads of a cold key: ~100 ms on the cache, 1 query per instance',
    async (st) => {
      // The costly query held (its reviews table locked) until every request has given up on the cache, so all 60 are
      // in flight together, however slowly they arrive.
      const locker = new pg.Client({ connectionString: postgres.adminUrl });
      await locker.connect();
      st.after(() => locker.end());
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE reviews IN ACCESS EXCLUSIVE MODE');
      cache.pause();
      st.after(() => cache.resume());
      const gaveUp = () => instances.reduce((sum, instance) => sum + instance.metrics.cacheRequests.error, 0);
      const before = { queries: instances.map((instance) => instance.metrics.dbQueries), gaveUp: gaveUp() };
      const started = Date.now();
      const responses = Promise.all(Array.from({ length: 60 }, (_, n) => get(instances[n % 3]!, '/api/products/21')));
      await waitFor(() => gaveUp() - before.gaveUp >= 60, { timeoutMs: 2000, what: '60 reads past the cache' });
      // Each waited once on the cache (100 ms), together: far below one timeout per request.
      const elapsed = Date.now() - started;
      await locker.query('COMMIT');
      const answered = await responses;
      const perInstance = instances.map((instance, n) => instance.metrics.dbQueries - before.queries[n]!);
      cache.resume();
      assert.deepEqual(new Set(answered.map((res) => `${res.status} ${res.headers['x-cache']}`)), new Set(['200 miss']));
      assert.ok(elapsed < 600, `60 reads waited ${elapsed} ms on the frozen cache`);
      assert.ok(
        perInstance.every((count) => count <= 1),
        `queries per instance: ${perInstance}`,
      );
      for (const instance of instances) await cacheInUse(instance, 21);
    },
  );

  await t.test('cache Redis frozen › an edit still reaches every instance once it answers again', async () => {
    await get(a, '/api/products/14').expect(200);
    const browser = createBrowser();
    await browser.login(a);
    const _csrf = await browser.csrfToken(a);
    cache.pause();
    const started = Date.now();
    const saved = await browser.on(a).post('/products/14', { _csrf, name: 'Edited while frozen', price: '3.00' });
    assert.equal(saved.status, 303);
    assert.ok(Date.now() - started < 500, `edit took ${Date.now() - started} ms`);
    cache.resume();
    await waitFor(
      async () => {
        const res = await get(c, '/api/products/14');
        return res.headers['x-cache'] === 'hit' && res.body.name === 'Edited while frozen';
      },
      { timeoutMs: 5000, what: 'the edit in the cache' },
    );
  });

  await t.test('an edit the cache refused (a failover, say) is written once the cache accepts it again', async (st) => {
    await cacheInUse(a, 19);
    const browser = createBrowser();
    await browser.login(a);
    const _csrf = await browser.csrfToken(a);
    // As a replica being promoted answers READONLY: the write-through fails, reads still work.
    await cache.admin.aclSetUser('cache', ['-eval']);
    st.after(() => cache.admin.aclSetUser('cache', ['+eval']));
    const saved = await browser.on(a).post('/products/19', { _csrf, name: 'Retried', price: '4.00' });
    assert.equal(saved.status, 303);
    const before = await get(b, '/api/products/19');
    assert.deepEqual([before.headers['x-cache'], before.body.name], ['hit', 'Product 19']);
    await cache.admin.aclSetUser('cache', ['+eval']);
    await waitFor(async () => (await get(c, '/api/products/19')).body.name === 'Retried', {
      timeoutMs: 2000,
      what: 'the retried write',
    });
  });

  await t.test('cache Redis killed › pages 200 from the database at once; restarted, the cache is used again', async () => {
    await cache.kill();
    for (const instance of instances) {
      const started = Date.now();
      await get(instance, '/api/products/15').expect(200).expect('X-Cache', 'miss');
      assert.ok(Date.now() - started < 250, `read took ${Date.now() - started} ms`);
      // Still ready: the catalogue degrades without its cache, so nginx and Kubernetes keep the instance in rotation.
      await get(instance, '/readyz').expect(200);
    }
    await cache.start();
    for (const instance of instances) await cacheInUse(instance, 15);
  });

  await t.test('PostgreSQL down › cached products served (stale flagged), uncached 503 with Retry-After', async () => {
    await cacheInUse(a, 16);
    await cacheInUse(a, 17);
    await ageEntry(17);
    await postgres.stop();
    await get(b, '/api/products/16').expect(200).expect('X-Cache', 'hit');
    const stale = await get(c, '/products/17').expect(200).expect('X-Cache', 'stale');
    assert.match(stale.text, /X-Cache: stale/);
    const started = Date.now();
    const down = await get(a, '/api/products/18').expect(503).expect('Retry-After', '1').expect('X-Cache', 'miss');
    assert.ok(Date.now() - started < 1500, `503 took ${Date.now() - started} ms`);
    assert.match(down.body.error, /briefly unavailable/);
    await get(a, '/products?page=1').expect(503);
    // Still ready: sessions and cached products are served, and every instance sees the same database anyway.
    await get(b, '/readyz').expect(200);
    await postgres.start();
    await waitFor(async () => (await get(a, '/api/products/18')).status === 200, { what: 'PostgreSQL back' });
    await waitFor(async () => (await get(b, '/api/products/17')).headers['x-cache'] === 'hit', { what: 'the refresh' });
  });
});
