import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Child } from '../lib/child.ts';
import { waitFor } from '../lib/poll.ts';
import { createPrometheusClient } from '../lib/prometheus.ts';
import { prometheusArgs, renderLocalPrometheusConfig } from './prometheus.ts';
import type { State } from './state.ts';
import type { Supervisor } from './supervisor.ts';

type PrometheusOptions = {
  supervisor: Supervisor;
  /** The prometheus executable (Debian: /usr/bin/prometheus). */
  prometheus: string;
  port: number;
  /** Its config and TSDB; wiped by nothing: a restart keeps the series. */
  dir: string;
  /** Every instance's METRICS_PORT, scraped on 127.0.0.1. */
  metricsPorts: number[];
  /** Every prometheus-redis-exporter's port (one per session Redis data node), scraped on 127.0.0.1. */
  redisExporterPorts: number[];
  /** Scrape and evaluation interval; short, so a check on one machine sees a change within seconds. */
  intervalS: number;
  readyTimeoutMs: number;
};

/** Prometheus with the shipped config and alert rules, scraping the local instances (started by --with-prometheus). */
export function createPrometheusProcess({
  supervisor,
  prometheus,
  port,
  dir,
  metricsPorts,
  redisExporterPorts,
  intervalS,
  readyTimeoutMs,
}: PrometheusOptions) {
  const url = `http://127.0.0.1:${port}`;
  const api = createPrometheusClient(url);
  let child: Child | undefined;
  let state: State = 'stopped';

  async function start() {
    mkdirSync(dir, { recursive: true });
    const configFile = join(dir, 'prometheus.yml');
    writeFileSync(
      configFile,
      renderLocalPrometheusConfig({
        appTargets: metricsPorts.map((metricsPort) => `127.0.0.1:${metricsPort}`),
        redisTargets: redisExporterPorts.map((exporterPort) => `127.0.0.1:${exporterPort}`),
        selfTarget: `127.0.0.1:${port}`,
        intervalS,
      }),
    );
    state = 'starting';
    const started = supervisor.supervise(
      'prometheus',
      prometheus,
      prometheusArgs({ configFile, dataDir: join(dir, 'data'), port }),
      {
        onExit: () => (state = 'crashed'),
      },
    );
    child = started;
    await started.spawned;
    await waitFor('prometheus', () => api.isReady(), { timeoutMs: readyTimeoutMs, failIf: supervisor.exitReason(started) });
    state = 'ready';
  }

  async function stop() {
    if (!child?.isRunning()) return;
    state = 'stopping';
    // SIGTERM: Prometheus closes its TSDB cleanly.
    await child.stop('SIGTERM', 10_000);
    state = 'stopped';
  }

  return {
    url,
    api,
    start,
    stop,
    status: () => ({ url, port, pid: child?.isRunning() ? child.pid : undefined, state }),
  };
}
