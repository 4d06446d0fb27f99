import { catalogCounters } from '../lib/catalog-metrics.ts';
import type { Stack } from '../stack/start-stack.ts';
import { runLoad, type LoadResult } from './load.ts';
import { formatMs, type Goal } from './report.ts';

/** Seeded products (app/db/migrations/002-catalog-seed.sql) and the skew of their popularity. */
export const PRODUCTS = 5000;
const ZIPF_S = 1.1;
const REQUESTS_IN_CYCLE = 5000;
/** Offered load of both sides: the same requests per second, so latency and database load compare directly. */
export const RATE = 300;

/** Product ids drawn from a Zipf-like distribution (a few products get most views), from a fixed seed: repeatable. */
export function zipfPaths(): { path: string }[] {
  const weights = Array.from({ length: PRODUCTS }, (_, i) => 1 / (i + 1) ** ZIPF_S);
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const cumulative: number[] = [];
  let running = 0;
  for (const weight of weights) cumulative.push((running += weight / total));
  let seed = 42;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: REQUESTS_IN_CYCLE }, () => {
    const draw = random();
    const rank = cumulative.findIndex((value) => value >= draw);
    // Ranks scattered over the ids, so the popular products are not all neighbours.
    const id = ((rank * 7919) % PRODUCTS) + 1;
    return { path: `/api/products/${id}` };
  });
}

export const counters = (stack: Stack) => catalogCounters(stack.status().instances.map((instance) => instance.metricsUrl));

type Side = { cache: boolean; load: LoadResult; dbPer1000: number; hitRatio: number };

/** One side's load at the common offered rate, with the database queries and hit ratio its instances counted. */
async function measureSide(stack: Stack, variants: { path: string }[], durationS: number, cache: boolean): Promise<Side> {
  const before = await counters(stack);
  const load = await runLoad({
    url: stack.urls.nginx,
    method: 'GET',
    path: '/api/products/1',
    connections: 16,
    durationS,
    overallRate: RATE,
    variants,
  });
  const after = await counters(stack);
  // Every product read, including those answered while the cache was away (`error`): none of them is a hit.
  const reads = after.hit + after.stale + after.miss + after.error - (before.hit + before.stale + before.miss + before.error);
  const hits = after.hit + after.stale - (before.hit + before.stale);
  return { cache, load, dbPer1000: ((after.db - before.db) / load.responses) * 1000, hitRatio: reads ? hits / reads : 0 };
}

/**
 * Product reads with and without the cache, side by side: the same Zipf-like requests at the same offered rate,
 * alternating (`rounds` of each, the instances restarted with CACHE_ENABLED between sides), medians reported.
 * Counts come from the metrics the app exposes (cache_requests_total, db_queries_total).
 */
export async function compareCatalog(stack: Stack, { durationS, rounds }: { durationS: number; rounds: number }) {
  const variants = zipfPaths();
  const sides: Side[] = [];
  const instances = stack.status().instances.map((instance) => instance.n);
  // Lazy loading's price first: an empty cache (the cache Redis persists nothing, so a restart empties it) under the
  // same reads, every first read of a product a miss. Instances restarted so none is still skipping a cache it saw go.
  await stack.catalog!.cache!.kill();
  await stack.catalog!.cache!.start();
  for (const n of instances) await stack.instances.restart(n, { env: { CACHE_ENABLED: 'true' } });
  const cold = await measureSide(stack, variants, durationS, true);
  console.log(`[bench] products, cold cache: hit ratio ${(cold.hitRatio * 100).toFixed(1)} %, ${cold.load.errors} errors`);
  // Then steady state: every product of the cycle read once beforehand.
  const distinct = [...new Set(variants.map((variant) => variant.path))];
  for (let i = 0; i < distinct.length; i += 16)
    await Promise.all(distinct.slice(i, i + 16).map((path) => fetch(stack.urls.nginx + path).then((res) => res.arrayBuffer())));
  for (let round = 0; round < rounds; round++) {
    for (const cache of [true, false]) {
      for (const n of instances) await stack.instances.restart(n, { env: { CACHE_ENABLED: String(cache) } });
      sides.push(await measureSide(stack, variants, durationS, cache));
      const load = sides.at(-1)!.load;
      console.log(`[bench] products, cache ${cache ? 'on' : 'off'}: p99 ${formatMs(load.p99Ms)} ms, ${load.errors} errors`);
    }
  }
  for (const n of instances) await stack.instances.restart(n, { env: {} });
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const summary = (cache: boolean) => {
    const of = sides.filter((side) => side.cache === cache);
    return {
      rps: median(of.map((side) => side.load.rps)),
      p50Ms: median(of.map((side) => side.load.p50Ms)),
      p99Ms: median(of.map((side) => side.load.p99Ms)),
      errors: of.reduce((sum, side) => sum + side.load.errors, 0),
      dbPer1000: median(of.map((side) => side.dbPer1000)),
      hitRatio: median(of.map((side) => side.hitRatio)),
    };
  };
  return { rate: RATE, rounds, cold, with: summary(true), without: summary(false), sides };
}

export type CatalogComparison = Awaited<ReturnType<typeof compareCatalog>>;

export function catalogTable(comparison: CatalogComparison): string {
  const row = (name: string, side: CatalogComparison['with']) =>
    `| ${name} | ${Math.round(side.rps)} | ${formatMs(side.p50Ms)} | ${formatMs(side.p99Ms)} | ${side.errors} | ${side.dbPer1000.toFixed(0)} | ${(side.hitRatio * 100).toFixed(1)} % |`;
  return [
    `Product reads (GET /api/products/:id, Zipf-like over ${PRODUCTS} products, ${comparison.rate} req/s offered; "from empty" is one run on a just-restarted cache, the others follow one warm-up read of each product in the cycle, medians of ${comparison.rounds} alternated rounds per side):`,
    '',
    '| Catalogue | req/s | p50 ms | p99 ms | errors | DB queries per 1,000 requests | hit ratio |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row('with the cache, from empty', { ...comparison.cold.load, ...comparison.cold }),
    row('with the cache', comparison.with),
    row('without (CACHE_ENABLED=false)', comparison.without),
  ].join('\n');
}

export function catalogGoals({ with: cached, without }: CatalogComparison): Goal[] {
  return [
    { goal: 'product reads: hit ratio ≥ 90 %', measured: `${(cached.hitRatio * 100).toFixed(1)} %`, met: cached.hitRatio >= 0.9 },
    {
      goal: 'product reads: ≤ 100 database queries per 1,000 requests',
      measured: `${cached.dbPer1000.toFixed(0)} (without the cache: ${without.dbPer1000.toFixed(0)})`,
      met: cached.dbPer1000 <= 100,
    },
    {
      goal: 'product reads: p99 with the cache ≤ ½ of p99 without',
      measured: `${formatMs(cached.p99Ms)} ms vs ${formatMs(without.p99Ms)} ms`,
      met: cached.p99Ms <= without.p99Ms / 2,
    },
  ];
}
