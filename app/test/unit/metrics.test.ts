import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import express, { type Request, type Response } from 'express';
import { register as globalRegistry } from 'prom-client';
import { ServiceUnavailableError } from '../../src/errors.ts';
import { createMetrics, METRIC, UNMATCHED_ROUTE, type Metrics } from '../../src/metrics.ts';
import { DeadlineExceededError } from '../../src/redis.ts';

type Labels = Record<string, string>;
type Value = { labels: Record<string, string | number>; value: number; metricName?: string };

/** The value of one sample (`_count` of a histogram, or a counter), 0 if the series does not exist. */
async function sample(metrics: Metrics, name: string, labels: Labels, suffix = ''): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const values = (await metric.get()).values as Value[];
  const found = values.find(
    (value) =>
      (value.metricName ?? name) === name + suffix &&
      Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected),
  );
  return found?.value ?? 0;
}

async function series(metrics: Metrics, name: string, suffix: string) {
  const values = (await metrics.registry.getSingleMetric(name)!.get()).values as Value[];
  return values.filter((value) => (value.metricName ?? name) === name + suffix).map((value) => value.labels);
}

/** One request through the middleware as Express would run it: labels are read when the response finishes. */
function request(metrics: Metrics, req: Partial<Request> & { method: string; path: string }, status: number) {
  const res = Object.assign(new EventEmitter(), { statusCode: status });
  const full = { baseUrl: '', app: express(), ...req } as unknown as Request;
  metrics.httpMiddleware(full, res as unknown as Response, () => {});
  res.emit('finish');
}

const httpCount = (metrics: Metrics, labels: Labels) => sample(metrics, METRIC.httpDuration, labels, '_count');

describe('metrics: HTTP requests', () => {
  it('labels a request with its route pattern, never the raw path', async () => {
    const metrics = createMetrics({ instanceId: 'unit', defaultMetrics: false });
    for (const id of ['1', '2', '3'])
      request(metrics, { method: 'GET', path: `/users/${id}`, route: { path: '/users/:id' } }, 200);
    assert.equal(await httpCount(metrics, { method: 'GET', route: '/users/:id', status: '200' }), 3);
    assert.deepEqual(
      (await series(metrics, METRIC.httpDuration, '_count')).map((labels) => labels.route),
      ['/users/:id'],
    );
  });

  it('puts every path that matched no route under one label, so scanners cannot grow the series', async () => {
    const metrics = createMetrics({ instanceId: 'unit', defaultMetrics: false });
    for (let i = 0; i < 500; i++) request(metrics, { method: 'GET', path: `/wp-admin/${i}.php` }, 404);
    assert.equal(await httpCount(metrics, { route: UNMATCHED_ROUTE, status: '404' }), 500);
    assert.equal((await series(metrics, METRIC.httpDuration, '_count')).length, 1);
  });

  it('names the route of a request refused before routing (CSRF, session read) when its path is a fixed route', async () => {
    const metrics = createMetrics({ instanceId: 'unit', defaultMetrics: false });
    metrics.routes(['/login', '/items/:id']);
    request(metrics, { method: 'POST', path: '/login' }, 403);
    request(metrics, { method: 'GET', path: '/items/7' }, 503);
    assert.equal(await httpCount(metrics, { method: 'POST', route: '/login', status: '403' }), 1);
    assert.equal(await httpCount(metrics, { method: 'GET', route: UNMATCHED_ROUTE, status: '503' }), 1);
  });

  it('labels what a mounted middleware answered (static files) with its mount path', async () => {
    const metrics = createMetrics({ instanceId: 'unit', defaultMetrics: false });
    request(metrics, { method: 'GET', path: '/app.css', baseUrl: '/static' }, 200);
    assert.equal(await httpCount(metrics, { route: '/static', status: '200' }), 1);
  });

  it('folds unusual methods into OTHER', async () => {
    const metrics = createMetrics({ instanceId: 'unit', defaultMetrics: false });
    request(metrics, { method: 'PROPFIND', path: '/' }, 404);
    assert.equal(await httpCount(metrics, { method: 'OTHER' }), 1);
  });

  it('times the request from the middleware to the end of the response', async () => {
    const metrics = createMetrics({ instanceId: 'unit', defaultMetrics: false });
    const res = Object.assign(new EventEmitter(), { statusCode: 200 });
    const req = { method: 'GET', path: '/', baseUrl: '', route: { path: '/' }, app: express() } as unknown as Request;
    metrics.httpMiddleware(req, res as unknown as Response, () => {});
    const start = performance.now();
    while (performance.now() - start < 20);
    res.emit('finish');
    const seconds = await sample(metrics, METRIC.httpDuration, { route: '/' }, '_sum');
    assert.ok(seconds >= 0.02 && seconds < 1, `observed ${seconds} s`);
  });
});

describe('metrics: session store operations', () => {
  const outcomes: [string, () => Promise<unknown>][] = [
    ['ok', () => Promise.resolve('value')],
    ['timeout', () => Promise.reject(new ServiceUnavailableError(new DeadlineExceededError(500)))],
    ['unavailable', () => Promise.reject(new ServiceUnavailableError(new Error('connection refused')))],
    ['error', () => Promise.reject(new Error('WRONGTYPE'))],
  ];
  for (const [outcome, command] of outcomes) {
    it(`counts a command that ends in "${outcome}" and passes its result through unchanged`, async () => {
      const metrics = createMetrics({ instanceId: 'unit', defaultMetrics: false });
      const expected = await command().then(
        (value) => ({ value }),
        (error) => ({ error }),
      );
      const observed = await metrics.observeStore('read', command()).then(
        (value) => ({ value }),
        (error) => ({ error }),
      );
      assert.deepEqual(observed, expected);
      assert.equal(await sample(metrics, METRIC.storeDuration, { operation: 'read', outcome }, '_count'), 1);
      assert.equal((await series(metrics, METRIC.storeDuration, '_count')).length, 1);
    });
  }
});

describe('metrics: logins, revocations, registry', () => {
  it('counts login outcomes and revoked sessions by their fixed labels', async () => {
    const metrics = createMetrics({ instanceId: 'unit', defaultMetrics: false });
    metrics.loginOutcome('success');
    metrics.loginOutcome('wrong_password');
    metrics.loginOutcome('wrong_password');
    metrics.loginOutcome('throttled');
    metrics.sessionsRevoked('logout');
    metrics.sessionsRevoked('others_logged_out', 3);
    assert.equal(await sample(metrics, METRIC.logins, { outcome: 'success' }), 1);
    assert.equal(await sample(metrics, METRIC.logins, { outcome: 'wrong_password' }), 2);
    assert.equal(await sample(metrics, METRIC.logins, { outcome: 'throttled' }), 1);
    assert.equal(await sample(metrics, METRIC.revoked, { reason: 'logout' }), 1);
    assert.equal(await sample(metrics, METRIC.revoked, { reason: 'others_logged_out' }), 3);
  });

  it('keeps each instance in a registry of its own and leaves prom-client global registry empty', async () => {
    const a = createMetrics({ instanceId: 'a' });
    const b = createMetrics({ instanceId: 'b' });
    a.loginOutcome('success');
    assert.equal(await sample(b, METRIC.logins, { outcome: 'success' }), 0);
    assert.equal(globalRegistry.getMetricsAsArray().length, 0);
    assert.match(await a.registry.metrics(), /^app_info\{instance_id="a"\} 1$/m);
    assert.match(await a.registry.metrics(), /^process_cpu_seconds_total /m);
  });
});
