import { isHttpOk } from '../lib/http.ts';
import { createSupervisedProcess } from './supervised-process.ts';
import type { Supervisor } from './supervisor.ts';

/**
 * The exporter's metrics that infra/prometheus/alerts.yml uses (check:infra allows no other redis_* name); the live
 * Prometheus test (prometheus.test.ts) finds every one of them scraped from the installed exporter.
 */
export const REDIS_EXPORTER_METRICS = [
  'redis_up',
  'redis_memory_used_bytes',
  'redis_memory_max_bytes',
  'redis_master_link_up',
  'redis_connected_slaves',
  'redis_instance_info',
  'redis_rejected_connections_total',
] as const;

/** Exporter i listens on the port of data node i plus this: 6420-6422 beside the nodes 6380-6382. */
export const REDIS_EXPORTER_PORT_OFFSET = 40;

/**
 * prometheus-redis-exporter's flags for one node, as compose and Kubernetes give them too: the `exporter` ACL user
 * (infra/redis/render-acl.sh grants exactly what these flags make it send), TLS against the stack's CA, its own
 * metrics only (no Go runtime series), and a connection timeout under the shipped 5 s scrape timeout, so a frozen
 * node reports redis_up 0 instead of failing the scrape. The password is not a flag: it would show in `ps`
 * (REDIS_PASSWORD in the environment instead; the exporter's password *file* is a JSON map, not a secret file).
 */
export function redisExporterArgs({ redisPort, port, caFile }: { redisPort: number; port: number; caFile: string }) {
  return [
    `-redis.addr=rediss://127.0.0.1:${redisPort}`,
    '-redis.user=exporter',
    `-tls-ca-cert-file=${caFile}`,
    `-web.listen-address=127.0.0.1:${port}`,
    '-redis-only-metrics',
    '-connection-timeout=3s',
  ];
}

type RedisExporterOptions = {
  supervisor: Supervisor;
  /** The prometheus-redis-exporter executable (Debian: /usr/bin/prometheus-redis-exporter). */
  exporter: string;
  /** exporter-1..N, after the node it watches. */
  name: string;
  redisPort: number;
  port: number;
  caFile: string;
  /** Asked at each start: a restart after a rotation takes the new one. */
  password: () => string;
  readyTimeoutMs: number;
};

/**
 * One exporter per data node (started by --with-prometheus): its own process and port, so the node's death shows as
 * that target's redis_up 0 while the exporter stays up, as a sidecar does in Kubernetes.
 */
export function createRedisExporterProcess(options: RedisExporterOptions) {
  const { supervisor, exporter, name, redisPort, port, caFile, password, readyTimeoutMs } = options;
  const lifecycle = createSupervisedProcess({
    supervisor,
    name,
    readyTimeoutMs,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 5_000,
    quiet: true,
  });

  const start = () =>
    lifecycle.start({
      command: exporter,
      args: redisExporterArgs({ redisPort, port, caFile }),
      env: { ...process.env, REDIS_PASSWORD: password() },
      // /health answers without touching Redis: the exporter is up even while its node is down.
      ready: () => isHttpOk(`http://127.0.0.1:${port}/health`),
    });

  return {
    port,
    start,
    stop: lifecycle.stop,
    status: () => ({ name, port, redisPort, pid: lifecycle.pid(), state: lifecycle.state() }),
  };
}
