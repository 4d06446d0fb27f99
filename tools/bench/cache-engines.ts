import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { memcachedStats } from '../lib/memcached-server.ts';
import { CLOCK_TICKS_PER_S, readProcStat } from '../lib/proc-stat.ts';
import { connectAdmin, redisUrl } from '../lib/redis.ts';
import { printToStackLog } from '../stack/stack-log.ts';
import { startStack, type Stack } from '../stack/start-stack.ts';
import { counters, RATE, zipfPaths } from './catalog.ts';
import { runLoad, type LoadResult } from './load.ts';
import type { BenchOptions } from './options.ts';
import { infoField, sampleSessionBytes } from './redis-stats.ts';
import { formatMs } from './report.ts';

/** Ports of the memcached stack: the bench's own, shifted by this much (the naive stack takes +100). */
const PORT_SHIFT = 200;

export type Engine = 'redis' | 'memcached';

/**
 * The catalogue on memcached (three nodes), beside the bench's stack (whose catalogue caches in Redis): the same
 * number of instances and the same nginx, sessions on a single Redis node (product reads never touch them).
 */
export async function bootMemcachedTarget(options: BenchOptions, onStack: (stack: Stack) => void) {
  const { nginxPort, redisPort, appBasePort } = options.stack;
  const runDir = join(options.stack.runDir, '..', 'bench-memcached');
  const stack = await startStack({
    instances: options.stack.instances,
    nginxPort: nginxPort + PORT_SHIFT,
    redisPort: redisPort + PORT_SHIFT,
    appBasePort: appBasePort + PORT_SHIFT,
    runDir,
    fresh: true,
    redis: 'single',
    cache: 'memcached',
    env: process.env,
    print: printToStackLog(runDir),
    outputFile: join(runDir, 'children.log'),
  });
  onStack(stack);
  return stack;
}

/** One engine as the comparison sees it: its stack, its cache processes, and how to empty and weigh its cache. */
type Side = {
  engine: Engine;
  stack: Stack;
  cachePids: () => (number | undefined)[];
  /** Killed and started again (neither engine persists the cache), then every instance restarted: none skips it. */
  empty: () => Promise<void>;
  /** Items cached and the memory they hold, by the engine's own account (used_memory; memcached's slab chunks in use). */
  memory: () => Promise<{ items: number; allocated: number }>;
  /** Bytes per cached product as the engine counts an item (MEMORY USAGE; memcached's `bytes` per item). */
  itemBytes: () => Promise<number>;
};

function redisSide(stack: Stack): Side {
  const cache = stack.catalog!.cache!;
  const url = redisUrl('admin', readFileSync(stack.redisAdminPasswordFile, 'utf8').trim(), cache.port, { tls: true });
  const withAdmin = async <R>(run: (admin: Awaited<ReturnType<typeof connectAdmin>>) => Promise<R>) => {
    const admin = await connectAdmin(url);
    try {
      return await run(admin);
    } finally {
      admin.destroy();
    }
  };
  return {
    engine: 'redis',
    stack,
    cachePids: () => [cache.status().pid],
    empty: async () => {
      await cache.kill();
      await cache.start();
      await restartInstances(stack);
    },
    memory: () =>
      withAdmin(async (admin) => ({
        items: await admin.dbSize(),
        allocated: Number(await infoField(admin, 'memory', 'used_memory')),
      })),
    itemBytes: () => withAdmin(async (admin) => (await sampleSessionBytes(admin, 200, 'cache:*')).bytesPerKey),
  };
}

function memcachedSide(stack: Stack): Side {
  const nodes = stack.catalog?.cacheNodes ?? [];
  const credentials = {
    ca: readFileSync(stack.redisCaFile, 'utf8'),
    username: 'cache',
    password: readFileSync(join(stack.secretsDir, 'redis_cache_password'), 'utf8').trim(),
  };
  const stats = (group = '') =>
    Promise.all(nodes.map((node) => memcachedStats({ host: '127.0.0.1', port: node.port }, credentials, group)));
  const sum = (all: Record<string, number>[], field: string) => all.reduce((total, one) => total + (one[field] ?? 0), 0);
  return {
    engine: 'memcached',
    stack,
    cachePids: () => nodes.map((node) => node.status().pid),
    empty: async () => {
      await Promise.all(nodes.map((node) => node.kill()));
      await Promise.all(nodes.map((node) => node.start()));
      await restartInstances(stack);
    },
    async memory() {
      // An item takes a whole chunk of its slab class (sizes 1.25× apart): chunk_size × used_chunks per class.
      const slabs = await stats('slabs');
      const allocated = slabs
        .flatMap((node) =>
          Object.entries(node)
            .filter(([key]) => key.endsWith(':used_chunks'))
            .map(([key, used]) => used * (node[key.replace('used_chunks', 'chunk_size')] ?? 0)),
        )
        .reduce((total, bytes) => total + bytes, 0);
      return { items: sum(await stats(), 'curr_items'), allocated };
    },
    async itemBytes() {
      const all = await stats();
      return sum(all, 'bytes') / Math.max(1, sum(all, 'curr_items'));
    },
  };
}

async function restartInstances(stack: Stack) {
  for (const instance of stack.status().instances) await stack.instances.restart(instance.n, { env: {} });
}

/** CPU time (µs) used so far by the stack's app instances and by its cache processes, from /proc. */
function cpuMicros(side: Side) {
  const micros = (pids: (number | undefined)[]) =>
    (pids.reduce((sum: number, pid) => sum + ((pid && readProcStat(pid)?.cpuTicks) || 0), 0) * 1_000_000) / CLOCK_TICKS_PER_S;
  return { app: micros(side.stack.status().instances.map((instance) => instance.pid)), cache: micros(side.cachePids()) };
}

type Run = { load: LoadResult; hitRatio: number; appCpuUs: number; cacheCpuUs: number };

/** One load on one side's nginx: its hit ratio (the instances' counters) and the CPU per response of the app and the cache. */
async function measure(
  side: Side,
  variants: { path: string }[],
  load: { durationS: number; connections: number; rate?: number },
) {
  const before = { counted: await counters(side.stack), cpu: cpuMicros(side) };
  const result = await runLoad({
    url: side.stack.urls.nginx,
    method: 'GET',
    path: '/api/products/1',
    connections: load.connections,
    durationS: load.durationS,
    ...(load.rate ? { overallRate: load.rate } : {}),
    variants,
  });
  const after = { counted: await counters(side.stack), cpu: cpuMicros(side) };
  const delta = (key: 'hit' | 'stale' | 'miss' | 'error') => after.counted[key] - before.counted[key];
  const reads = delta('hit') + delta('stale') + delta('miss') + delta('error');
  const per = (micros: number) => micros / Math.max(1, result.responses);
  return {
    load: result,
    hitRatio: reads ? (delta('hit') + delta('stale')) / reads : 0,
    appCpuUs: per(after.cpu.app - before.cpu.app),
    cacheCpuUs: per(after.cpu.cache - before.cpu.cache),
  } satisfies Run;
}

/**
 * The catalogue cached in Redis (the bench's stack) and in memcached (a second stack beside it), under the same
 * Zipf-like product reads. First, each from empty at the common offered rate (its hit ratio; then one read of every
 * product of the cycle, and the memory that cost); then `rounds` rounds, the engines' order swapped each round, of a
 * saturating load (throughput, CPU per request) and of the offered rate (p99, warm hit ratio); medians reported.
 */
export async function compareEngines({
  redis,
  memcached,
  durationS,
  connections,
  rounds,
}: {
  redis: Stack;
  memcached: Stack;
  durationS: number;
  connections: number;
  rounds: number;
}) {
  const variants = zipfPaths();
  const sides = [redisSide(redis), memcachedSide(memcached)];
  const distinct = [...new Set(variants.map((variant) => variant.path))];
  const fromEmpty = {} as Record<Engine, { run: Run; items: number; allocatedPerItem: number; itemBytes: number }>;
  for (const side of sides) {
    await side.empty();
    const empty = await side.memory();
    const run = await measure(side, variants, { durationS, connections: 16, rate: RATE });
    for (let i = 0; i < distinct.length; i += 16)
      await Promise.all(
        distinct.slice(i, i + 16).map((path) => fetch(side.stack.urls.nginx + path).then((res) => res.arrayBuffer())),
      );
    const warm = await side.memory();
    const items = warm.items - empty.items;
    fromEmpty[side.engine] = {
      run,
      items,
      allocatedPerItem: (warm.allocated - empty.allocated) / Math.max(1, items),
      itemBytes: await side.itemBytes(),
    };
    console.log(
      `[bench] ${side.engine} cache from empty: hit ratio ${(run.hitRatio * 100).toFixed(1)} %; ${items} products, ${Math.round(fromEmpty[side.engine].allocatedPerItem)} B each`,
    );
  }
  const runs = {
    saturated: { redis: [] as Run[], memcached: [] as Run[] },
    offered: { redis: [] as Run[], memcached: [] as Run[] },
  };
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 ? sides.toReversed() : sides) {
      const saturated = await measure(side, variants, { durationS, connections });
      const offered = await measure(side, variants, { durationS, connections: 16, rate: RATE });
      runs.saturated[side.engine].push(saturated);
      runs.offered[side.engine].push(offered);
      console.log(
        `[bench] round ${round + 1}, ${side.engine} cache: ${Math.round(saturated.load.rps)} req/s, app ${saturated.appCpuUs.toFixed(0)} µs/req, cache ${saturated.cacheCpuUs.toFixed(1)} µs/req; at ${RATE} req/s p99 ${formatMs(offered.load.p99Ms)} ms`,
      );
    }
  }
  const summary = (engine: Engine) => {
    const of = (list: Run[], f: (run: Run) => number) => median(list.map(f));
    const [saturated, offered] = [runs.saturated[engine], runs.offered[engine]];
    return {
      rps: of(saturated, (run) => run.load.rps),
      saturatedP99Ms: of(saturated, (run) => run.load.p99Ms),
      appCpuUs: of(saturated, (run) => run.appCpuUs),
      cacheCpuUs: of(saturated, (run) => run.cacheCpuUs),
      p50Ms: of(offered, (run) => run.load.p50Ms),
      p99Ms: of(offered, (run) => run.load.p99Ms),
      hitRatio: of(offered, (run) => run.hitRatio),
      errors: [...saturated, ...offered].reduce((sum, run) => sum + run.load.errors, 0),
      fromEmpty: fromEmpty[engine],
    };
  };
  return { rate: RATE, rounds, durationS, connections, redis: summary('redis'), memcached: summary('memcached'), runs };
}

export type EngineComparison = Awaited<ReturnType<typeof compareEngines>>;

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
