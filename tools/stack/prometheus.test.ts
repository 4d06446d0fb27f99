import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { send } from '../lib/http.ts';
import { freePort, freePortBase } from '../lib/ports.ts';
import { waitFor } from '../lib/poll.ts';
import { createPrometheusClient, QUERIES } from '../lib/prometheus.ts';
import { connectAdmin } from '../lib/redis.ts';
import { login } from '../lib/session-client.ts';
import { REDIS_EXPORTER_METRICS, REDIS_EXPORTER_PORT_OFFSET } from './redis-exporter-process.ts';
import { startStack } from './start-stack.ts';

// The alerts' `for` (infra/prometheus/alerts.yml) is left as shipped; the test waits for "pending" within a few scrape
// intervals, then for its end once Redis is back. Firing is proven by promtool's rule tests (npm run check:infra), not
// waited for.
const INTERVAL_S = 1;

describe('npm start -- --with-prometheus (a real Prometheus scraping the local stack)', () => {
  it('every instance and Redis node is a target and up; request and session-read rates show; RedisReplicasMissing goes pending when a replica dies, RedisUnreachable when all of Redis does, each away when it is back', async (t) => {
    const runDir = mkdtempSync(join(tmpdir(), 'stack-prometheus-'));
    const [nginxPort, prometheusPort] = [await freePort(), await freePort()];
    // Below the ephemeral range: an outgoing connection once took an app port chosen above it (33858).
    const redisPort = await freePortBase([0, 1, 2, 10, 11, 12, 20, 30, 40, 41, 42], 20000, 29900);
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

    // Redis seen from the inside: one exporter per data node, as the `exporter` ACL user.
    await waitFor(
      'three Redis exporters up as targets, each node up, every metric the alerts use scraped',
      async () => {
        const found = await api.targets('redis');
        if (found.length !== 3 || found.some((target) => target.health !== 'up')) return false;
        if ((await api.query('redis_up{job="redis"} == 1')).length !== 3) return false;
        for (const name of REDIS_EXPORTER_METRICS) if ((await api.query(`${name}{job="redis"}`)).length === 0) return false;
        return true;
      },
      { timeoutMs: 20_000 },
    );
    // An evaluation between the first scrapes of two exporters sees no primary yet (RedisPrimaryCountWrong pending,
    // as after any Prometheus restart; its `for` rides that out): none of them once every node has been scraped.
    const groupAlerts = ['RedisReplicasMissing', 'RedisPrimaryCountWrong', 'RedisReplicaLinkDown'];
    await waitFor(
      `no ${groupAlerts.join(', ')} while the group is whole`,
      async () => (await Promise.all(groupAlerts.map((name) => api.alerts(name)))).every((found) => found.length === 0),
      { timeoutMs: 10 * INTERVAL_S * 1000 },
    );
    // The ACL grants exactly what the exporter sends: the one command it is refused is CONFIG GET (masterauth).
    const admin = await connectAdmin(await stack.redis.primaryAdminUrl());
    t.after(() => admin.destroy());
    // RESP3 (the probe client's protocol): each entry of ACL LOG is a map.
    const refused = (await admin.sendCommand(['ACL', 'LOG'])) as Record<string, unknown>[];
    const exporterRefusals = refused.filter((entry) => entry.username === 'exporter');
    assert.deepEqual([...new Set(exporterRefusals.map((entry) => `${entry.reason} ${entry.object}`))], ['command config|get']);

    const killed = await stack.redis.killReplica();
    const missing = await waitFor(
      'RedisReplicasMissing pending or firing',
      async () => {
        const found = await api.alerts('RedisReplicasMissing');
        return found.length === 1 && found;
      },
      { timeoutMs: 10 * INTERVAL_S * 1000 },
    );
    assert.ok(missing[0]!.state === 'pending' || missing[0]!.state === 'firing');
    // The killed node, and only it, is down; its exporter still answers (the target stays up).
    await waitFor(
      'redis_up 0 for the killed node only',
      async () => {
        const down = await api.query('redis_up{job="redis"} == 0');
        return down.length === 1 && down[0]!.labels.instance === `127.0.0.1:${killed.port + REDIS_EXPORTER_PORT_OFFSET}`;
      },
      { timeoutMs: 10 * INTERVAL_S * 1000 },
    );
    assert.ok((await api.targets('redis')).every((target) => target.health === 'up'));
    await stack.redis.startNodes();
    await waitFor('RedisReplicasMissing gone', async () => (await api.alerts('RedisReplicasMissing')).length === 0, {
      timeoutMs: 20_000,
    });

    assert.equal((await api.alerts('RedisUnreachable')).length, 0, 'no alert while Redis is up');

    await stack.redis.kill();
    const alerts = await waitFor(
      'RedisUnreachable pending or firing for both instances',
      async () => {
        const found = await api.alerts('RedisUnreachable');
        return found.length === 2 && found;
      },
      { timeoutMs: 10 * INTERVAL_S * 1000 },
    );
    assert.ok(alerts.every((alert) => alert.state === 'pending' || alert.state === 'firing'));

    await stack.redis.startNodes();
    await waitFor('RedisUnreachable gone', async () => (await api.alerts('RedisUnreachable')).length === 0, {
      timeoutMs: 15_000,
    });
  });
});
