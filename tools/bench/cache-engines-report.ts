import type { EngineComparison } from './cache-engines.ts';
import { PRODUCTS } from './catalog.ts';
import { formatMs } from './report.ts';

const percent = (ratio: number) => `${(ratio * 100).toFixed(1)} %`;

/** The Redis-vs-memcached table of the catalogue's cache, with what each column measured. */
export function engineTable(comparison: EngineComparison): string {
  const row = (name: string, side: EngineComparison['redis']) =>
    `| ${name} | ${Math.round(side.rps)} | ${formatMs(side.p50Ms)} | ${formatMs(side.p99Ms)} | ${side.errors} | ${Math.round(side.appCpuUs)} | ${side.cacheCpuUs.toFixed(1)} | ${Math.round(side.fromEmpty.itemBytes)} | ${Math.round(side.fromEmpty.allocatedPerItem)} | ${percent(side.fromEmpty.run.hitRatio)} | ${percent(side.hitRatio)} |`;
  const { redis, memcached } = comparison;
  return [
    `Catalogue cache engines (GET /api/products/:id, the same Zipf-like reads over ${PRODUCTS} products; Redis: one cache node; memcached: three nodes, client-side consistent hashing; both over TLS, authenticated; medians of ${comparison.rounds} rounds, the engines' order swapped each round):`,
    '',
    `| Cache engine | req/s, saturated | p50 ms at ${comparison.rate} req/s | p99 ms at ${comparison.rate} req/s | errors | app CPU µs/req | cache CPU µs/req | bytes per product (engine's count) | memory per product | hit ratio from empty | hit ratio warm |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    row('Redis (CACHE_ENGINE=redis)', redis),
    row('memcached ×3 (CACHE_ENGINE=memcached)', memcached),
    '',
    `req/s saturated: ${comparison.connections} connections, as fast as nginx answers; the CPU columns are from those runs (/proc of the app instances, of the cache's process or processes, ÷ responses). p50/p99 and the warm hit ratio: ${comparison.rate} req/s offered. ` +
      "Bytes per product: MEMORY USAGE (Redis, 200 keys sampled) or memcached's `bytes` ÷ `curr_items` (item header, key and value). " +
      'Memory per product: used_memory grown (Redis) or slab chunks in use (memcached: each item takes a whole chunk of its size class), from the empty cache to one read of every product of the cycle, ÷ the products cached. ' +
      `From empty: the first ${comparison.durationS} s of reads on a just-restarted cache; warm: after that read of every product.`,
    `Ratios (memcached ÷ Redis): throughput ${(memcached.rps / redis.rps).toFixed(2)}, p99 ${(memcached.p99Ms / redis.p99Ms).toFixed(2)}, app CPU ${(memcached.appCpuUs / redis.appCpuUs).toFixed(2)}, cache CPU ${(memcached.cacheCpuUs / redis.cacheCpuUs).toFixed(2)}, memory per product ${(memcached.fromEmpty.allocatedPerItem / redis.fromEmpty.allocatedPerItem).toFixed(2)}.`,
  ].join('\n');
}
