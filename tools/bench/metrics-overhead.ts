// What the metrics cost per request on the hot path, without the noise of a network: the HTTP middleware and one
// store observation, each called N times on synthetic requests, against the same loop without them.
//   node tools/bench/metrics-overhead.ts [calls=100000]
import { EventEmitter } from 'node:events';
import express, { type Request, type Response } from 'express';
import { createMetrics } from '../../app/src/metrics.ts';

const calls = Number(process.argv[2] ?? 100_000);
if (!Number.isInteger(calls) || calls < 1000 || calls > 10_000_000) throw new Error('calls: 1000..10000000');
const metrics = createMetrics({ instanceId: 'bench' });
const app = express();
// The routes a logged-in read meets: a route pattern and, for requests refused before routing, the fixed paths.
const routes = ['/api/session', '/', '/login', '/static', '/nope'];
const requests = Array.from({ length: 64 }, (_, i) => {
  const path = routes[i % routes.length]!;
  const req = { method: i % 7 === 0 ? 'POST' : 'GET', path, baseUrl: path === '/static' ? '/static' : '', app };
  return path === '/nope' || path === '/static' ? req : { ...req, route: { path } };
}) as unknown as Request[];
const statuses = [200, 200, 200, 303, 404, 503];

/** CPU microseconds per call of `body` (user + system), best of 5 runs after a warm-up. */
async function cpuPerCall(body: (i: number) => void | Promise<void>): Promise<number> {
  let best = Infinity;
  for (let run = 0; run < 6; run++) {
    const start = process.cpuUsage();
    for (let i = 0; i < calls; i++) await body(i);
    const used = process.cpuUsage(start);
    if (run > 0) best = Math.min(best, (used.user + used.system) / calls);
  }
  return best;
}

const finished = (i: number, middleware: boolean) => {
  const res = Object.assign(new EventEmitter(), { statusCode: statuses[i % statuses.length]! });
  if (middleware) metrics.httpMiddleware(requests[i & 63]!, res as unknown as Response, () => {});
  res.emit('finish');
};
const bare = await cpuPerCall((i) => finished(i, false));
const withMiddleware = await cpuPerCall((i) => finished(i, true));
const value = Promise.resolve('{"user":{"username":"alice"}}');
const bareStore = await cpuPerCall(async () => void (await value));
const withStore = await cpuPerCall(async () => void (await metrics.observeStore('read', value)));

const middleware = withMiddleware - bare;
const store = withStore - bareStore;
const line = (what: string, us: number) => console.log(`${what.padEnd(34)} ${us.toFixed(2).padStart(6)} µs CPU per call`);
console.log(`${calls} calls, best of 5`);
line('http middleware (labels + observe)', middleware);
line('observeStore (one read)', store);
line('per logged-in read (both)', middleware + store);
// ~90 µs: the app CPU of a logged-in read in the bench (docs/performance.md).
console.log(`= ${(((middleware + store) / 90) * 100).toFixed(1)} % of a 90 µs logged-in read`);

// A scrape renders every series; Prometheus asks once per scrape interval (15 s in compose), so this is per interval.
const scrapeStart = process.cpuUsage();
for (let i = 0; i < 100; i++) await metrics.registry.metrics();
const scrape = process.cpuUsage(scrapeStart);
line('one scrape (all series)', (scrape.user + scrape.system) / 100);
