// Runs one autocannon load in a worker thread, so the generator's event loop is not shared with the runner's
// (which also reads the stack's log pipes). Receives a LoadSpec, posts back a LoadResult.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type { LoadResult, LoadSpec } from './load.ts';

type Request = { method?: string; path?: string; headers?: Record<string, string>; body?: string };
type Instance = {
  on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): void;
  on(event: 'reqError', listener: (err: Error) => void): void;
  on(event: 'done', listener: (result: AutocannonResult) => void): void;
};
type AutocannonResult = {
  duration: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
};
type Autocannon = (options: Record<string, unknown>) => Instance;

// autocannon ships no type declarations; the few fields used here are typed above.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
const spec = workerData as LoadSpec;

// One request template, rebuilt before every send from the next variant: consecutive requests cycle through
// the variants (users' cookies, alternating form bodies) across all connections.
let next = 0;
const requests = [
  {
    method: spec.method,
    path: spec.path,
    setupRequest: (request: Request) => {
      const variant = spec.variants[next++ % spec.variants.length] ?? {};
      return {
        ...request,
        headers: { ...request.headers, ...variant.headers },
        ...(variant.body ? { body: variant.body } : {}),
        ...(variant.path ? { path: variant.path } : {}),
      };
    },
  },
];

const latencies: number[] = [];
const instance = autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationS,
  ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
  headers: spec.method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
  requests,
  timeout: 10,
});
// autocannon's own histogram has 1 ms resolution; the raw response times are kept for sub-ms percentiles.
instance.on('response', (_client, _status, _bytes, responseTimeMs) => void latencies.push(responseTimeMs));
const started = performance.now();
// When socket errors happen (say, connections reset as the run stops), and what they were, for the JSON results.
const socketErrors: { atMs: number; message: string }[] = [];
instance.on('reqError', (err) => void socketErrors.push({ atMs: performance.now() - started, message: err.message }));
instance.on('done', (result) => {
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]));
  const responses = Object.values(statuses).reduce((sum, count) => sum + count, 0);
  const ok = Object.entries(statuses).reduce((sum, [code, count]) => (/^[23]/.test(code) ? sum + count : sum), 0);
  const message: LoadResult = {
    responses,
    durationS: result.duration,
    rps: responses / result.duration,
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    p99Ms: at(0.99),
    maxMs: latencies.at(-1) ?? NaN,
    statuses,
    errors: responses - ok + result.errors + result.timeouts,
    socketErrors: result.errors,
    timeouts: result.timeouts,
    errorSamples: socketErrors.slice(0, 10),
  };
  parentPort?.postMessage(message);
});
