import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import supertest from 'supertest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { startMetricsServer, type MetricsServer } from '../../src/metrics-server.ts';
import { createMetrics, METRIC } from '../../src/metrics.ts';
import { createSessionRedis } from '../../src/session-redis.ts';
import { createUserDirectory } from '../../src/users.ts';
import { createBrowser } from '../helpers/browser.ts';
import { onCluster, startRedisServer } from '../helpers/redis-server.ts';
import { ALICE } from '../helpers/users.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * A real Redis and one instance as server.ts wires it: the app, its metrics, and /metrics on a listener of its own.
 * The test's end closes both.
 */
async function startMetered(t: TestContext, env: Record<string, string> = {}) {
  const redis = await startRedisServer(t);
  const redisUrl = redis.url;
  const config = loadConfig({
    NODE_ENV: 'test',
    INSTANCE_ID: 'app-metrics',
    REDIS_URL: redisUrl,
    SESSION_SECRET: 'test-secret-that-is-at-least-32-characters',
    DEMO_USERS: `${ALICE.username}:${ALICE.password}`,
    LOG_LEVEL: 'silent',
    REDIS_COMMAND_TIMEOUT_MS: '300',
    ...env,
  });
  const log = createLogger(config);
  const metrics = createMetrics({ instanceId: config.instanceId });
  const client = createSessionRedis(config, log);
  metrics.watchRedis(client, 'session');
  await client.connect();
  const users = await createUserDirectory(config.demoUsers);
  const app = createApp({ config, redis: client, users, log, metrics });
  const server = await startMetricsServer({ registry: metrics.registry, host: '127.0.0.1', port: 0 });
  // A client still reconnecting to a killed server (a failed test) would wait in close(): destroy it instead.
  t.after(async () => void (await Promise.all([client.isReady ? client.close() : client.destroy(), server.close()])));
  return { testRedis: redis, instance: { app, config, redis: client, metrics, server } };
}

/** Scrapes /metrics over HTTP as Prometheus does. */
async function scrape(server: MetricsServer): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The value of the sample `name{labels...}` in an exposition, 0 when absent (a series not yet created). */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((pair) => [pair[1], pair[2]]));
    if (Object.entries(labels).every(([key, expected]) => found[key] === expected)) return Number(match[3]);
  }
  return 0;
}

const skip = onCluster && 'wires the single-node client itself';

describe('metrics on a real instance', { skip }, () => {
  it('/metrics answers on its own port with the exposition format; any other path or method is refused', async (t) => {
    const { instance } = await startMetered(t, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' });
    const res = await fetch(`http://127.0.0.1:${instance.server.port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.equal(value(text, METRIC.info, { instance_id: 'app-metrics' }), 1);
    assert.equal(value(text, METRIC.redisReady, { redis: 'session' }), 1);
    assert.ok(value(text, 'process_resident_memory_bytes') > 0);
    assert.equal((await fetch(`http://127.0.0.1:${instance.server.port}/`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${instance.server.port}/metrics`, { method: 'POST' })).status, 405);
    // And the app does not serve them: only the separate listener does.
    assert.equal((await supertest(instance.app).get('/metrics')).status, 404);
  });

  it('a logged-in read › one request on its route pattern and one store read, both ok', async (t) => {
    const { instance } = await startMetered(t, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' });
    const browser = createBrowser();
    assert.equal((await browser.login(instance)).status, 303);
    const before = await scrape(instance.server);
    assert.equal((await browser.on(instance).get('/api/session')).body.authenticated, true);
    const now = await scrape(instance.server);
    const delta = (name: string, labels: Record<string, string>) => value(now, name, labels) - value(before, name, labels);
    assert.equal(delta(`${METRIC.httpDuration}_count`, { method: 'GET', route: '/api/session', status: '200' }), 1);
    assert.equal(delta(`${METRIC.storeDuration}_count`, { operation: 'read', outcome: 'ok' }), 1);
    assert.equal(delta(`${METRIC.storeDuration}_count`, { operation: 'write', outcome: 'ok' }), 0);
  });

  it('login outcomes and logouts are counted: success, wrong password, throttled, logout', async (t) => {
    const { testRedis: redis, instance } = await startMetered(t, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' });
    const before = await scrape(instance.server);
    const browser = createBrowser();
    const wrong = { ...ALICE, password: 'not-the-password' };
    assert.equal((await browser.login(instance, wrong)).status, 401);
    assert.equal((await browser.login(instance, wrong)).status, 401);
    assert.equal((await browser.login(instance, wrong)).status, 429);
    const fresh = createBrowser();
    await redis.admin.del(await redis.admin.keys('login-fail:*'));
    assert.equal((await fresh.login(instance)).status, 303);
    const beforeLogout = await scrape(instance.server);
    assert.equal((await fresh.logout(instance)).status, 303);
    const now = await scrape(instance.server);
    const delta = (name: string, labels: Record<string, string>) => value(now, name, labels) - value(before, name, labels);
    assert.equal(delta(METRIC.logins, { outcome: 'wrong_password' }), 2);
    assert.equal(delta(METRIC.logins, { outcome: 'throttled' }), 1);
    assert.equal(delta(METRIC.logins, { outcome: 'success' }), 1);
    assert.equal(delta(METRIC.revoked, { reason: 'logout' }), 1);
    const destroys = (text: string) => value(text, `${METRIC.storeDuration}_count`, { operation: 'destroy', outcome: 'ok' });
    assert.equal(destroys(now) - destroys(beforeLogout), 1);
  });

  it('route labels: a forged post is counted on its route, unknown paths as unmatched, static files on /static', async (t) => {
    const { instance } = await startMetered(t, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' });
    const before = await scrape(instance.server);
    assert.equal((await supertest(instance.app).post('/login').type('form').send({ username: 'x', password: 'y' })).status, 403);
    for (const path of ['/nope/1', '/nope/2', '/.env']) assert.equal((await supertest(instance.app).get(path)).status, 404);
    assert.equal((await supertest(instance.app).get('/static/app.css')).status, 200);
    const now = await scrape(instance.server);
    const delta = (labels: Record<string, string>) =>
      value(now, `${METRIC.httpDuration}_count`, labels) - value(before, `${METRIC.httpDuration}_count`, labels);
    assert.equal(delta({ method: 'POST', route: '/login', status: '403' }), 1);
    assert.equal(delta({ method: 'GET', route: 'unmatched', status: '404' }), 3);
    assert.equal(delta({ method: 'GET', route: '/static', status: '200' }), 1);
    assert.doesNotMatch(now, /nope|\.env|app\.css/);
  });

  it('no label carries a user name, a session id or a client address', async (t) => {
    const { instance } = await startMetered(t, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' });
    const browser = createBrowser();
    await browser.login(instance);
    await browser.on(instance).get('/');
    const text = await scrape(instance.server);
    const sessionId = browser.sessionId();
    assert.ok(sessionId);
    for (const secret of [ALICE.username, sessionId, '127.0.0.1', '::1', 'ffff']) {
      assert.ok(!text.includes(secret), `the exposition mentions ${secret}`);
    }
  });

  it('Redis paused › reads time out and are counted as timeouts', async (t) => {
    const { testRedis: redis, instance } = await startMetered(t, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' });
    const browser = createBrowser();
    await browser.login(instance);
    const before = await scrape(instance.server);
    redis.pause();
    const paused = await browser.on(instance).get('/api/session');
    redis.resume();
    assert.equal(paused.status, 503);
    const now = await scrape(instance.server);
    assert.equal(
      value(now, `${METRIC.storeDuration}_count`, { operation: 'read', outcome: 'timeout' }) -
        value(before, `${METRIC.storeDuration}_count`, { operation: 'read', outcome: 'timeout' }),
      1,
    );
  });

  it('Redis killed › ready drops to 0, reads are unavailable, reconnects are counted; back › ready is 1 again', async (t) => {
    const { testRedis: redis, instance } = await startMetered(t, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' });
    const browser = createBrowser();
    await browser.login(instance);
    const before = await scrape(instance.server);
    await redis.kill();
    await waitFor(async () => !instance.redis.isReady, { what: 'the client to notice' });
    assert.equal((await browser.on(instance).get('/api/session')).status, 503);
    await waitFor(async () => value(await scrape(instance.server), METRIC.redisReconnects, { redis: 'session' }) > 0, {
      what: 'a reconnect attempt',
    });
    const down = await scrape(instance.server);
    assert.equal(value(down, METRIC.redisReady, { redis: 'session' }), 0);
    assert.equal(
      value(down, `${METRIC.storeDuration}_count`, { operation: 'read', outcome: 'unavailable' }) -
        value(before, `${METRIC.storeDuration}_count`, { operation: 'read', outcome: 'unavailable' }),
      1,
    );

    await redis.start();
    await waitFor(async () => value(await scrape(instance.server), METRIC.redisReady, { redis: 'session' }) === 1, {
      what: 'ready again',
    });
  });
});
