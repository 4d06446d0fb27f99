import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { send } from '../lib/http.ts';
import { freePort, freePortBase } from '../lib/ports.ts';
import { waitFor } from '../lib/poll.ts';
import { createPrometheusClient, QUERIES } from '../lib/prometheus.ts';
import { login } from '../lib/session-client.ts';
import { startStack } from './start-stack.ts';

// The alert's `for` (infra/prometheus/alerts.yml); the test waits for "pending" within a few scrape intervals, then
// for its end once Redis is back. Firing is proven by promtool's rule tests (npm run check:infra), not waited for.
const INTERVAL_S = 1;

describe('npm start -- --with-prometheus (a real Prometheus scraping the local stack)', () => {
  it('every instance is a target and up; request and session-read rates show; RedisUnreachable goes pending when Redis dies and away when it is back', async (t) => {
    const runDir = mkdtempSync(join(tmpdir(), 'stack-prometheus-'));
    const [nginxPort, prometheusPort] = [await freePort(), await freePort()];
    // Below the ephemeral range: an outgoing connection once took an app port chosen above it (33858).
    const redisPort = await freePortBase([0, 1, 2, 10, 11, 12, 20, 30], 20000, 29900);
    const appBasePort = await freePortBase([1, 2, 51, 52], 30000, 32700);
    const stack = await startStack({
      instances: 2,
      nginxPort,
      redisPort,
      appBasePort,
      runDir,
      prometheusPort,
      prometheusIntervalS: INTERVAL_S,
      outputFile: join(runDir, 'children.log'),
      print: () => {},
    });
    t.after(async () => {
      await stack.stop();
      rmSync(runDir, { recursive: true, force: true });
    });
    const status = stack.status();
    assert.deepEqual(
      status.instances.map((instance) => instance.metricsUrl),
      status.instances.map((instance) => `http://127.0.0.1:${instance.port + 50}/metrics`),
    );
    const api = createPrometheusClient(`http://127.0.0.1:${prometheusPort}`);

    const user = await login(stack.urls.nginx, 'alice', 'alice-password-1');
    const reads = () =>
      Promise.all(Array.from({ length: 20 }, () => send(`${stack.urls.nginx}/api/session`, { cookie: user.cookie })));
    await reads();
    const targets = await waitFor(
      'both instances up as targets',
      async () => {
        const found = await api.targets('app');
        return found.length === 2 && found.every((target) => target.health === 'up') && found;
      },
      { timeoutMs: 20_000 },
    );
    assert.equal(targets.length, 2);
    for (const query of [QUERIES.requestRate, QUERIES.sessionReadRate]) {
      await waitFor(
        `${query} > 0`,
        async () => {
          await reads();
          return (await api.query(query)).some((sample) => sample.value > 0);
        },
        { timeoutMs: 20_000 },
      );
    }
    assert.equal((await api.alerts('RedisUnreachable')).length, 0, 'no alert while Redis is up');

    await stack.killRedis();
    const alerts = await waitFor(
      'RedisUnreachable pending or firing for both instances',
      async () => {
        const found = await api.alerts('RedisUnreachable');
        return found.length === 2 && found;
      },
      { timeoutMs: 10 * INTERVAL_S * 1000 },
    );
    assert.ok(alerts.every((alert) => alert.state === 'pending' || alert.state === 'firing'));

    await stack.startRedis();
    await waitFor('RedisUnreachable gone', async () => (await api.alerts('RedisUnreachable')).length === 0, {
      timeoutMs: 15_000,
    });
  });
});
