import { catalogCounters } from '../lib/catalog-metrics.ts';
import { send, type Reply } from '../lib/http.ts';
import { timeUntil } from '../lib/poll.ts';
import type { RedisProcess } from '../stack/redis-process.ts';
import type { Stack } from '../stack/start-stack.ts';
import { createHashRing } from '../../app/src/catalog/hash-ring.ts';
import { check, fmtMs, type Check } from './checks.ts';
import { settled } from './instance-scenarios.ts';
import { isFailure, type LoadLoop } from './load-loop.ts';

/** Products read before each fault (cached), and products not read before it (the cache faults read them meanwhile). */
const CACHED = Array.from({ length: 10 }, (_, i) => i + 1);
const UNCACHED = Array.from({ length: 10 }, (_, i) => 3001 + i + Math.floor(Math.random() * 900));
/** Products only the PostgreSQL scenario reads, so they are uncached whatever ran before it (no scenario depends on another's order). */
const NEVER_READ = Array.from({ length: 6 }, (_, i) => 4001 + i + Math.floor(Math.random() * 900));

const product = (stack: Stack, id: number) => send(`${stack.urls.nginx}/api/products/${id}`, { timeoutMs: 5_000 });
const probe = async (stack: Stack, ids: number[]) => {
  const replies: Reply[] = [];
  for (const id of ids) replies.push(await product(stack, id));
  return replies;
};
const statuses = (replies: Reply[]) => [...new Set(replies.map((reply) => reply.status || reply.error))].join('/');
const slowest = (replies: Reply[]) => Math.max(0, ...replies.map((reply) => reply.ms));
/** Every product read during a cache fault answered 200, none slower than the cache's timeout allows. */
const readsCheck = (name: string, figure: string, replies: Reply[]) =>
  check(
    name,
    figure,
    `${statuses(replies)}, ${fmtMs(slowest(replies))}`,
    '200, ≤ 300 ms',
    statuses(replies) === '200' && slowest(replies) <= 300,
  );
/** Reads the CACHED products until every one comes from the cache (after an outage the app skips it for a second). */
const warm = async (stack: Stack) => {
  const cached = await timeUntil(
    async () => (await probe(stack, CACHED)).every((reply) => reply.headers['x-cache'] === 'hit'),
    10_000,
    100,
  );
  if (cached === undefined) throw new Error('the products were not cached within 10 s');
};
/** ms until a product read twice comes from the cache (a restarted cache starts empty). */
const cachedAgain = (stack: Stack, id = CACHED[0]!) =>
  timeUntil(async () => {
    await product(stack, id);
    return (await product(stack, id)).headers['x-cache'] === 'hit';
  }, 10_000);

/**
 * Product reads in the background while a fault lasts: one every 20 ms (50/s, cached and uncached products), bounded
 * in count and time, so the bounds hold under load and not only for one probe at a time.
 */
function productLoad(stack: Stack) {
  const replies: Promise<Reply>[] = [];
  const ids = [...CACHED, ...UNCACHED];
  const timer = setInterval(() => {
    if (replies.length >= 1_000) return clearInterval(timer);
    replies.push(product(stack, ids[replies.length % ids.length]!));
  }, 20);
  const guard = setTimeout(() => clearInterval(timer), 30_000);
  return {
    async stop() {
      clearInterval(timer);
      clearTimeout(guard);
      return Promise.all(replies);
    },
  };
}

type Fault = 'kill' | 'pause';

/** What a cache outage breaks, and what its rows are called. */
type Outage = {
  /** The load loop's phases are `${phase}-kill` and `${phase}-pause`. */
  phase: string;
  name: (fault: Fault) => string;
  /** Killed then restarted, frozen then resumed: the cache Redis, or one memcached node. */
  target: Pick<RedisProcess, 'kill' | 'start' | 'pause' | 'resume'>;
  /** The product read until it is a hit again once the target is back, and what the row calls it. */
  back: { id: number; what: string };
  /** Cached products on the nodes still up: each must still be a hit during the fault (memcached). */
  kept?: number[];
};

/**
 * `outage.target` killed, then frozen, under the session load and a product load: product pages keep answering 200
 * without waiting long on the cache (CACHE_TIMEOUT_MS: 100 ms), session requests are unaffected (the sessions live
 * in the other Redis), and once the target is back the cache is used again.
 */
async function outages(stack: Stack, loop: LoadLoop, outage: Outage) {
  const { target, kept } = outage;
  const checks: Check[] = [];
  const figures: Record<string, object> = {};
  for (const fault of ['kill', 'pause'] as const) {
    const name = outage.name(fault);
    const phase = `${outage.phase}-${fault}`;
    await warm(stack);
    loop.mark(phase);
    const products = productLoad(stack);
    await (fault === 'kill' ? target.kill() : target.pause());
    const during = await probe(stack, [...CACHED, ...UNCACHED]);
    const keptHits = kept && (await probe(stack, kept)).filter((reply) => reply.headers['x-cache'] === 'hit').length;
    loop.mark('between');
    await (fault === 'kill' ? target.start() : target.resume());
    const backMs = await cachedAgain(stack, outage.back.id);
    const loaded = await products.stop();
    await settled(loop, phase);
    const sessionFailures = loop.phase(phase).filter(isFailure).length;
    checks.push(
      readsCheck(name, 'product reads: status, slowest', during),
      ...(kept
        ? [
            check(
              name,
              "the other nodes' products: hits",
              `${keptHits} of ${kept.length}`,
              `${kept.length} of ${kept.length}`,
              keptHits === kept.length,
            ),
          ]
        : []),
      check(
        name,
        'product load (50/s): status, slowest',
        `${statuses(loaded)} (${loaded.length} reads), ${fmtMs(slowest(loaded))}`,
        '200, ≤ 500 ms',
        statuses(loaded) === '200' && slowest(loaded) <= 500,
      ),
      check(
        name,
        'session requests failed meanwhile',
        `${sessionFailures} of ${loop.phase(phase).length}`,
        '0',
        sessionFailures === 0,
      ),
      check(
        name,
        `${fault === 'kill' ? 'restart' : 'SIGCONT'} → ${outage.back.what}`,
        fmtMs(backMs),
        '≤ 5000 ms',
        backMs !== undefined && backMs <= 5_000,
      ),
    );
    figures[fault] = {
      statuses: statuses(during),
      slowestMs: slowest(during),
      ...(kept ? { keptHits, kept: kept.length } : {}),
      backMs,
      sessionFailures,
      productLoad: { reads: loaded.length, statuses: statuses(loaded), slowestMs: slowest(loaded) },
    };
  }
  return { checks, figures };
}

/** The cache Redis killed, then frozen (outages()). */
export const cacheOutages = (stack: Stack, loop: LoadLoop): Promise<{ checks: Check[]; figures: object }> =>
  outages(stack, loop, {
    phase: 'cache',
    name: (fault) => (fault === 'kill' ? 'Cache Redis killed (SIGKILL)' : 'Cache Redis frozen (SIGSTOP)'),
    target: stack.catalog!.cache!,
    back: { id: CACHED[0]!, what: 'a product read from the cache again' },
  });

/**
 * PostgreSQL stopped: cached products are still served (from the cache, or flagged stale), uncached ones get a fast 503
 * with Retry-After; started again, uncached products load.
 */
export async function postgresStopped(stack: Stack): Promise<{ checks: Check[]; figures: object }> {
  const postgres = stack.catalog!.postgres;
  const name = 'PostgreSQL stopped';
  await warm(stack);
  await postgres.stop();
  const cached = await probe(stack, CACHED);
  const uncached = await probe(stack, NEVER_READ.slice(0, 3));
  const restartedAt = performance.now();
  await postgres.start();
  const upMs = performance.now() - restartedAt;
  const backMs = await timeUntil(async () => (await product(stack, NEVER_READ[5]!)).status === 200, 10_000);
  const honest = uncached.every((reply) => reply.status === 503 && reply.headers['retry-after'] !== undefined);
  return {
    checks: [
      check(
        name,
        'cached products: status (X-Cache)',
        `${statuses(cached)} (${[...new Set(cached.map((reply) => reply.headers['x-cache']))].join('/')})`,
        '200',
        statuses(cached) === '200',
      ),
      check(
        name,
        'uncached products: status, slowest',
        `${statuses(uncached)}${honest ? ' + Retry-After' : ''}, ${fmtMs(slowest(uncached))}`,
        '503 + Retry-After within 2500 ms',
        honest && slowest(uncached) <= 2_500,
      ),
      check(
        'PostgreSQL started again',
        'start → an uncached product loads',
        `${fmtMs(backMs)} (PostgreSQL ready after ${fmtMs(upMs)})`,
        '≤ 5000 ms',
        backMs !== undefined && backMs <= 5_000,
      ),
    ],
    figures: { cached: statuses(cached), uncached: statuses(uncached), upMs, backMs },
  };
}

/** Well past the other scenarios' ids, so nobody has read them before: one per try of the herd. */
const HERD_IDS = ((first) => [first, first + 1, first + 2])(4950 + Math.floor(Math.random() * 48));
const HERD_SIZE = 200;

/**
 * The thundering herd through nginx: 200 concurrent reads of one product nobody has read, spread by nginx over the
 * instances, while the session load runs. Each instance loads it once (single flight); the database counts come from
 * the instances' own metrics. A cache read not answered within CACHE_TIMEOUT_MS (an overloaded machine) makes its
 * instance read the database instead for a second, by design, so each such read may start one more load: the bound
 * counts them, and a herd that had any runs again on another cold product (up to three tries), to measure one without.
 */
export async function coldHerd(stack: Stack): Promise<{ checks: Check[]; figures: object }> {
  const name = `${HERD_SIZE} concurrent reads of a cold product`;
  const metricsUrls = stack.status().instances.map((instance) => instance.metricsUrl);
  const herd = async (id: number) => {
    const before = await catalogCounters(metricsUrls);
    const replies = await Promise.all(Array.from({ length: HERD_SIZE }, () => product(stack, id)));
    const after = await catalogCounters(metricsUrls);
    return { replies, queries: after.db - before.db, misses: after.miss - before.miss, late: after.error - before.error };
  };
  let run = await herd(HERD_IDS[0]!);
  let tries = 1;
  for (const id of HERD_IDS.slice(1)) {
    if (run.late === 0) break;
    console.log(`[chaos]   ${run.late} cache reads not answered in time: the herd again, on another cold product`);
    run = await herd(id);
    tries++;
  }
  const { replies, queries, misses, late } = run;
  const measured = `${queries} (${misses} misses, ${late} cache reads not answered in time${tries > 1 ? `; try ${tries}` : ''})`;
  return {
    checks: [
      check(name, 'status, slowest', `${statuses(replies)}, ${fmtMs(slowest(replies))}`, '200', statuses(replies) === '200'),
      check(
        name,
        'database queries (db_queries_total)',
        measured,
        '≤ one per instance, + one per late cache read',
        queries <= metricsUrls.length + late,
      ),
    ],
    figures: { queries, misses, late, tries, slowestMs: slowest(replies), statuses: statuses(replies) },
  };
}

/**
 * CACHE_ENGINE=memcached: one of the three nodes killed, then frozen, under the session load and a product load, then
 * every node killed. Product pages keep answering 200 without waiting long, only the products on the node that is
 * away miss (the others are still hits: consistent hashing, nothing re-hashed), session requests are unaffected, and
 * a node that is back is used again by itself.
 */
export async function memcachedOutages(stack: Stack, loop: LoadLoop): Promise<{ checks: Check[]; figures: object }> {
  const nodes = stack.catalog?.cacheNodes ?? [];
  const ring = createHashRing(
    nodes.map((node) => `127.0.0.1:${node.port}`),
    (server) => server,
  );
  const victim = nodes[0]!;
  const onVictim = (id: number) => ring.nodeFor(`cache:product:v1:${id}`) === `127.0.0.1:${victim.port}`;
  const [lost, kept] = [CACHED.filter(onVictim), CACHED.filter((id) => !onVictim(id))];
  if (lost.length === 0 || kept.length === 0) throw new Error(`products ${CACHED.join(', ')} are not spread over the nodes`);
  const { checks, figures } = await outages(stack, loop, {
    phase: 'memcached',
    name: (fault) => `memcached-1 of 3 ${fault === 'kill' ? 'killed (SIGKILL)' : 'frozen (SIGSTOP)'}`,
    target: victim,
    back: { id: lost[0]!, what: 'its product from the cache again' },
    kept,
  });
  const name = 'every memcached node killed';
  await warm(stack);
  await Promise.all(nodes.map((node) => node.kill()));
  const during = await probe(stack, [...CACHED, ...UNCACHED]);
  await Promise.all(nodes.map((node) => node.start()));
  const backMs = await cachedAgain(stack);
  checks.push(
    readsCheck(name, 'product reads (from PostgreSQL): status, slowest', during),
    check(name, 'restart → a product from the cache again', fmtMs(backMs), '≤ 5000 ms', backMs !== undefined && backMs <= 5_000),
  );
  figures.all = { statuses: statuses(during), slowestMs: slowest(during), backMs };
  return { checks, figures };
}
