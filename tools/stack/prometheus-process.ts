import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrometheusClient } from '../lib/prometheus.ts';
import { prometheusArgs, renderLocalPrometheusConfig } from './prometheus.ts';
import { createSupervisedProcess } from './supervised-process.ts';
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
  // SIGTERM: Prometheus closes its TSDB cleanly.
  const lifecycle = createSupervisedProcess({
    supervisor,
    name: 'prometheus',
    readyTimeoutMs,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 10_000,
    quiet: true,
  });

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
    await lifecycle.start({
      command: prometheus,
      args: prometheusArgs({ configFile, dataDir: join(dir, 'data'), port }),
      ready: () => api.isReady(),
    });
  }

  return {
    url,
    api,
    start,
    stop: lifecycle.stop,
    status: () => ({ url, port, pid: lifecycle.pid(), state: lifecycle.state() }),
  };
}
