import { readFileSync } from 'node:fs';
import { CLOCK_TICKS_PER_S, readProcStat } from '../lib/proc-stat.ts';
import { type AdminClient, connectAdmin } from '../lib/redis.ts';
import type { Stack } from '../stack/start-stack.ts';
import { type WriteCounters, writeCounters } from './redis-stats.ts';
import { runWrk } from './wrk.ts';

/**
 * One side of the comparison: a stack, the Cookie headers of its logged-in users, the admin URL of the Redis they are
 * on, and that Redis's processes when they are not the stack's own (the naive setup on a plain redis-server).
 */
export type Side = { stack: Stack; cookies: string[]; adminUrl: string; redisPids?: () => number[] };

/**
 * What the primary wrote for the run, per request: writes (Redis's dirty counter: an EXPIRE counts, a GET does not),
 * and bytes of replication stream and of AOF growth per 1,000 requests. The stream also carries what is not the app's
 * (the Sentinels' hello messages, the primary's PING to its replicas: a few hundred bytes a second).
 */
export type Writes = { perRequest: number; replicationBytesPer1000: number; aofBytesPer1000: number };

type Cpu = { app: number; nginx: number; redis: number };

/** What one load run cost, per request, in µs of CPU, for every process that served it. */
export type CpuPerRequest = Cpu & { wrk: number; runner: number; total: number };

export type Run = {
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  errors: number;
  cpu: CpuPerRequest;
  writes: Writes;
};

const VARIANTS = ['naive, plain Redis', 'naive, TLS Sentinel group', 'project, logged in', 'project, anonymous'] as const;
export type Variant = (typeof VARIANTS)[number];
export const NAIVE_VARIANTS = ['naive, plain Redis', 'naive, TLS Sentinel group'] as const;
export type NaiveVariant = (typeof NAIVE_VARIANTS)[number];
/** Measured again at half their saturating rate, paced: the latency a deployment sees. */
const PACED_VARIANTS = ['naive, plain Redis', 'project, logged in'] as const satisfies Variant[];
type PacedVariant = (typeof PACED_VARIANTS)[number];
const PACED_ROUNDS = 3;

/**
 * The project against the connect-redis README setup (on a plain Redis, and on the project's TLS Sentinel group),
 * side by side in one run: `rounds` rounds of the four variants, in an order that rotates each round (so neither side always runs first, or always on a warmer
 * machine), `GET /api/session` with wrk. Medians of each variant, and medians of the per-round ratios: a ratio of
 * two runs a few seconds apart holds on a shared machine where absolute figures swing 2×.
 */
export async function compareWithNaive({
  project,
  naivePlain,
  naiveTls,
  rounds,
  durationS,
  connections,
}: {
  project: Side;
  naivePlain: Side;
  naiveTls: Side;
  rounds: number;
  durationS: number;
  connections: number;
}) {
  const runs = Object.fromEntries(VARIANTS.map((variant) => [variant, [] as Run[]])) as Record<Variant, Run[]>;
  // Each side's primary, asked before and after each run (outside the CPU window: INFO costs the primary a little).
  const [plainAdmin, tlsAdmin, projectAdmin] = await Promise.all(
    [naivePlain, naiveTls, project].map((side) => connectAdmin(side.adminUrl)),
  );
  const sides: Record<Variant, { side: Side; cookies: string[]; admin: AdminClient }> = {
    'naive, plain Redis': { side: naivePlain, cookies: naivePlain.cookies, admin: plainAdmin! },
    'naive, TLS Sentinel group': { side: naiveTls, cookies: naiveTls.cookies, admin: tlsAdmin! },
    'project, logged in': { side: project, cookies: project.cookies, admin: projectAdmin! },
    'project, anonymous': { side: project, cookies: [], admin: projectAdmin! },
  };
  /** One wrk run of a variant (as fast as answered, or at `rate`), with what every process spent on it. */
  async function measure(variant: Variant, rate?: number): Promise<Run> {
    const { side, cookies, admin } = sides[variant];
    const written = await writeCounters(admin);
    const before = stackCpu(side);
    const runnerBefore = process.cpuUsage();
    const load = await runWrk({
      url: side.stack.urls.nginx,
      path: '/api/session',
      cookies,
      connections,
      durationS,
      ...(rate === undefined ? {} : { rate }),
    });
    const runner = process.cpuUsage(runnerBefore);
    const after = stackCpu(side);
    const writes = writesPer(written, await writeCounters(admin), load.responses);
    const per = (micros: number) => micros / load.responses;
    const cpu = {
      app: per(after.app - before.app),
      nginx: per(after.nginx - before.nginx),
      redis: per(after.redis - before.redis),
      wrk: per(load.cpuMicros),
      runner: per(runner.user + runner.system),
    };
    return { ...load, cpu: { ...cpu, total: cpu.app + cpu.nginx + cpu.redis + cpu.wrk + cpu.runner }, writes };
  }
  const paced = Object.fromEntries(PACED_VARIANTS.map((variant) => [variant, [] as Run[]])) as Record<PacedVariant, Run[]>;
  const halfRates = {} as Record<PacedVariant, number>;
  try {
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const variant = VARIANTS[(round + k) % VARIANTS.length]!;
        const run = await measure(variant);
        runs[variant].push(run);
        console.log(
          `[bench] round ${round + 1}, ${variant}: ${Math.round(run.rps)} req/s, app ${run.cpu.app.toFixed(0)} µs/req, ${run.writes.perRequest.toFixed(3)} Redis writes/req`,
        );
      }
    }
    // Latency where a deployment runs: at half of each side's own saturating rate, on a fixed schedule.
    for (const variant of PACED_VARIANTS) halfRates[variant] = Math.round(medianRun(runs[variant]).rps / 2);
    for (let round = 0; round < Math.min(rounds, PACED_ROUNDS); round++) {
      for (let k = 0; k < PACED_VARIANTS.length; k++) {
        const variant = PACED_VARIANTS[(round + k) % PACED_VARIANTS.length]!;
        const run = await measure(variant, halfRates[variant]);
        paced[variant].push(run);
        console.log(
          `[bench] paced round ${round + 1}, ${variant} at ${halfRates[variant]} req/s: p99 ${run.p99Ms.toFixed(2)} ms`,
        );
      }
    }
  } finally {
    for (const admin of [plainAdmin, tlsAdmin, projectAdmin]) admin?.destroy();
  }
  const perRound = (f: (i: number) => number) => median(Array.from({ length: rounds }, (_, i) => f(i)));
  const at = (variant: Variant, i: number) => runs[variant][i]!;
  const ratiosAgainst = (naive: NaiveVariant) => ({
    loggedInThroughput: perRound((i) => at('project, logged in', i).rps / at(naive, i).rps),
    loggedInAppCpu: perRound((i) => at('project, logged in', i).cpu.app / at(naive, i).cpu.app),
    loggedInTotalCpu: perRound((i) => at('project, logged in', i).cpu.total / at(naive, i).cpu.total),
    anonymousThroughput: perRound((i) => at('project, anonymous', i).rps / at(naive, i).rps),
  });
  return {
    rounds,
    durationS,
    connections,
    runs,
    medians: Object.fromEntries(VARIANTS.map((variant) => [variant, medianRun(runs[variant])])) as Record<Variant, Run>,
    ratios: Object.fromEntries(NAIVE_VARIANTS.map((naive) => [naive, ratiosAgainst(naive)])) as Record<
      NaiveVariant,
      ReturnType<typeof ratiosAgainst>
    >,
    loggedInWrites: perRound((i) => at('project, logged in', i).writes.perRequest),
    /** Each at half its own saturating rate (the median above), paced. */
    paced: Object.fromEntries(
      PACED_VARIANTS.map((variant) => [variant, { rate: halfRates[variant], ...medianRun(paced[variant]) }]),
    ) as Record<PacedVariant, Run & { rate: number }>,
  };
}

export type Comparison = Awaited<ReturnType<typeof compareWithNaive>>;

/**
 * CPU used so far (µs) by the side's app instances, nginx (master and workers) and Redis (every node and Sentinel, or
 * the plain redis-server the side runs on), from /proc.
 */
function stackCpu({ stack, redisPids }: Side): Cpu {
  const status = stack.status();
  const micros = (pids: (number | undefined)[]) =>
    (pids.reduce((sum: number, pid) => sum + ((pid && readProcStat(pid)?.cpuTicks) || 0), 0) * 1_000_000) / CLOCK_TICKS_PER_S;
  const nginxPid = status.nginx.pid;
  return {
    app: micros(status.instances.map((instance) => instance.pid)),
    nginx: micros(nginxPid ? [nginxPid, ...childrenOf(nginxPid)] : []),
    redis: micros(redisPids?.() ?? [...status.redis.nodes, ...status.redis.sentinels].map((process) => process.pid)),
  };
}

function writesPer(before: WriteCounters, after: WriteCounters, requests: number): Writes {
  const per = (delta: number) => delta / Math.max(1, requests);
  return {
    perRequest: per(after.writes - before.writes),
    replicationBytesPer1000: per(after.replicationBytes - before.replicationBytes) * 1000,
    // An AOF rewrite during the run shrinks the file: no figure for that run, rather than a negative one.
    aofBytesPer1000: after.aofBytes >= before.aofBytes ? per(after.aofBytes - before.aofBytes) * 1000 : NaN,
  };
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianRun(runs: Run[]): Run {
  const of = (f: (run: Run) => number) => median(runs.map(f));
  const cpu = (key: keyof CpuPerRequest) => of((run) => run.cpu[key]);
  return {
    rps: of((run) => run.rps),
    p50Ms: of((run) => run.p50Ms),
    p90Ms: of((run) => run.p90Ms),
    p99Ms: of((run) => run.p99Ms),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    writes: {
      perRequest: of((run) => run.writes.perRequest),
      replicationBytesPer1000: of((run) => run.writes.replicationBytesPer1000),
      aofBytesPer1000: median(runs.map((run) => run.writes.aofBytesPer1000).filter((value) => !Number.isNaN(value))),
    },
    cpu: {
      app: cpu('app'),
      nginx: cpu('nginx'),
      redis: cpu('redis'),
      wrk: cpu('wrk'),
      runner: cpu('runner'),
      total: cpu('total'),
    },
  };
}
