import { METRIC } from '../../app/src/metrics.ts';

/**
 * The PromQL that the dashboard shows and the end-to-end check asks Prometheus, built from the metric names the app
 * registers (METRIC): a renamed metric breaks the dashboard's generation check and the e2e check, not a live panel.
 */
export const QUERIES = {
  requestRate: `sum by (route) (rate(${METRIC.httpDuration}_count{job="app"}[1m]))`,
  // `or vector(0)`: with no 5xx at all the ratio is 0, not an empty result (a panel would say "No data").
  errorRatio: `(sum(rate(${METRIC.httpDuration}_count{job="app", route!="/readyz", status=~"5.."}[5m])) or vector(0)) / sum(rate(${METRIC.httpDuration}_count{job="app", route!="/readyz"}[5m]))`,
  requestP99: `histogram_quantile(0.99, sum by (le, route) (rate(${METRIC.httpDuration}_bucket{job="app"}[5m])))`,
  sessionReadRate: `sum(rate(${METRIC.storeDuration}_count{job="app", operation="read"}[1m]))`,
  storeOutcomes: `sum by (operation, outcome) (rate(${METRIC.storeDuration}_count{job="app"}[1m]))`,
  storeP99: `histogram_quantile(0.99, sum by (le, operation) (rate(${METRIC.storeDuration}_bucket{job="app"}[5m])))`,
  redisReady: `${METRIC.redisReady}{job="app"}`,
  redisReconnects: `sum by (instance, redis) (increase(${METRIC.redisReconnects}{job="app"}[5m]))`,
  logins: `sum by (outcome) (rate(${METRIC.logins}{job="app"}[5m])) * 60`,
  revoked: `sum by (reason) (rate(${METRIC.revoked}{job="app"}[5m])) * 60`,
  cpu: `rate(process_cpu_seconds_total{job="app"}[1m])`,
  memory: `process_resident_memory_bytes{job="app"}`,
  eventLoopLag: `nodejs_eventloop_lag_p99_seconds{job="app"}`,
} as const;

type Sample = { metric: Record<string, string>; value: [number, string] };
type Target = { labels: Record<string, string>; health: 'up' | 'down' | 'unknown'; lastError: string };
type Alert = { labels: Record<string, string>; state: 'pending' | 'firing'; activeAt: string };

/** A client of Prometheus's HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/), bounded in time. */
export function createPrometheusClient(baseUrl: string, timeoutMs = 2000) {
  async function get<T>(path: string): Promise<T> {
    const res = await fetch(new URL(path, baseUrl), { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  }
  return {
    /** An instant query: each series with its value as a number. */
    async query(promql: string) {
      const data = await get<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`);
      return data.result.map(({ metric, value }) => ({ labels: metric, value: Number(value[1]) }));
    },
    async targets(job: string) {
      const data = await get<{ activeTargets: Target[] }>('/api/v1/targets?state=active');
      return data.activeTargets.filter((target) => target.labels.job === job);
    },
    /** Alerts pending or firing now; a resolved alert is simply absent. */
    async alerts(name: string) {
      const data = await get<{ alerts: Alert[] }>('/api/v1/alerts');
      return data.alerts.filter((alert) => alert.labels.alertname === name);
    },
    isReady: async () => (await fetch(new URL('/-/ready', baseUrl), { signal: AbortSignal.timeout(timeoutMs) })).ok,
  };
}
