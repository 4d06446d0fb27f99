import { join } from 'node:path';
import { findExecutable } from '../lib/prereqs.ts';
import type { Secrets } from '../lib/secrets.ts';
import { createPrometheusProcess } from './prometheus-process.ts';
import { createRedisExporterProcess, REDIS_EXPORTER_PORT_OFFSET } from './redis-exporter-process.ts';
import type { Supervisor } from './supervisor.ts';

/** The exporters' ports: one per data node of a Sentinel group or of the single node (none for a cluster). */
const exporterPorts = (redisNodes: { port: number; what: string }[]) =>
  redisNodes
    .filter((node) => /^redis(-\d+)?$/.test(node.what))
    .map((node) => ({ port: node.port + REDIS_EXPORTER_PORT_OFFSET, what: `${node.what} exporter` }));

/** The ports monitoring listens on, for the stack's "is anything in the way" check. */
export const monitoringPorts = (prometheusPort: number, redisNodes: { port: number; what: string }[]) => [
  { port: prometheusPort, what: 'prometheus' },
  ...exporterPorts(redisNodes),
];

type MonitoringOptions = {
  supervisor: Supervisor;
  port: number;
  intervalS: number;
  /** The session Redis's data nodes to export (none for a cluster: the alerts count one group's primaries). */
  redisNodePorts: number[];
  /** Each app instance's metrics port. */
  appMetricsPorts: number[];
  secrets: Secrets;
  runDir: string;
  readyTimeoutMs: number;
};

/**
 * A real Prometheus with the shipped config and alert rules, scraping every app instance and one
 * prometheus-redis-exporter per session Redis data node (its restricted ACL user). Missing programs are said before
 * anything starts.
 */
export function createMonitoring(options: MonitoringOptions) {
  const { supervisor, secrets, readyTimeoutMs } = options;
  const prometheusBinary = findExecutable('prometheus');
  if (!prometheusBinary) throw new Error('prometheus not found. Install it with:\n  sudo apt-get install -y prometheus');
  const exporterBinary = findExecutable('prometheus-redis-exporter');
  if (!exporterBinary)
    throw new Error('prometheus-redis-exporter not found. Install it with:\n  sudo apt-get install -y prometheus-redis-exporter');

  const exporters = options.redisNodePorts.map((redisPort, i) =>
    createRedisExporterProcess({
      supervisor,
      exporter: exporterBinary,
      name: `exporter-${i + 1}`,
      redisPort,
      port: redisPort + REDIS_EXPORTER_PORT_OFFSET,
      caFile: secrets.redisCaFile,
      password: () => secrets.redisExporterPassword,
      readyTimeoutMs,
    }),
  );
  const prometheus = createPrometheusProcess({
    supervisor,
    prometheus: prometheusBinary,
    port: options.port,
    dir: join(options.runDir, 'prometheus'),
    metricsPorts: options.appMetricsPorts,
    redisExporterPorts: exporters.map((exporter) => exporter.port),
    intervalS: options.intervalS,
    readyTimeoutMs,
  });

  return {
    prometheus,
    exporters,
    /** The exporters, then Prometheus; `log` says where. */
    async start(log: (message: string) => void, signal?: AbortSignal) {
      log(`starting prometheus-redis-exporter on 127.0.0.1:${exporters.map((exporter) => exporter.port).join(', ')}`);
      await Promise.all(exporters.map((exporter) => exporter.start()));
      signal?.throwIfAborted();
      log(`starting prometheus on ${prometheus.url}`);
      await prometheus.start();
    },
    async stop() {
      await prometheus.stop();
      await Promise.all(exporters.map((exporter) => exporter.stop()));
    },
    /** Each exporter, one at a time, onto the exporter password in the secrets now (a rotation). */
    async restartExporters() {
      for (const exporter of exporters) {
        await exporter.stop();
        await exporter.start();
      }
      return exporters.map((exporter) => exporter.status());
    },
    status: () => ({ prometheus: prometheus.status(), redisExporters: exporters.map((exporter) => exporter.status()) }),
  };
}
