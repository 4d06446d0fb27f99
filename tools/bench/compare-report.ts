import type { Comparison } from './compare.ts';
import type { Goal } from './report.ts';

const round = (value: number) => Math.round(value).toString();

/** The side-by-side table: medians per variant, and the CPU every process of the stack spent per request. */
export function comparisonTable({ medians, paced, rounds, durationS, connections }: Comparison): string {
  const lines = [
    `Side by side with the connect-redis README setup, on a plain Redis (one redis-server with its defaults: plain TCP, no password, no replica, no AOF) and on the project's own TLS Sentinel group: ${rounds} interleaved rounds of ${durationS} s, wrk -t2 -c${connections}, GET /api/session through nginx, three instances each; medians.`,
    '',
    '| Variant | req/s | p50 ms | p99 ms | errors | app | nginx | Redis | wrk | runner | all, CPU µs/req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [name, run] of Object.entries(medians)) {
    const { cpu } = run;
    lines.push(
      `| ${name} | ${round(run.rps)} | ${run.p50Ms.toFixed(2)} | ${run.p99Ms.toFixed(2)} | ${run.errors} | ${round(cpu.app)} | ${round(cpu.nginx)} | ${round(cpu.redis)} | ${round(cpu.wrk)} | ${round(cpu.runner)} | ${round(cpu.total)} |`,
    );
  }
  lines.push(
    '',
    'What the same runs wrote on each side’s primary (the Sentinel groups: two replicas, AOF; the plain Redis: neither): writes per request (Redis’s dirty counter), and per 1,000 requests the bytes of replication stream (including a few hundred bytes a second that are not the app’s: Sentinel hellos, PINGs to the replicas) and of AOF growth; medians.',
    '',
    '| Variant | Redis writes / req | replication B / 1,000 req | AOF B / 1,000 req |',
    '|---|---:|---:|---:|',
  );
  for (const [name, { writes }] of Object.entries(medians)) {
    lines.push(
      `| ${name} | ${writes.perRequest.toFixed(3)} | ${round(writes.replicationBytesPer1000)} | ${Number.isNaN(writes.aofBytesPer1000) ? '–' : round(writes.aofBytesPer1000)} |`,
    );
  }
  lines.push(
    '',
    `At half of each side’s saturating rate (the median above), paced: wrk sends on a fixed schedule (wrk.ts, pacedLua), ${Math.min(rounds, 3)} interleaved rounds of ${durationS} s, ${connections} connections; medians. The load generator’s own CPU is the wrk column.`,
    '',
    '| Variant | offered req/s | served req/s | p50 ms | p90 ms | p99 ms | errors | app | wrk | all, CPU µs/req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const [name, run] of Object.entries(paced)) {
    lines.push(
      `| ${name} | ${run.rate} | ${round(run.rps)} | ${run.p50Ms.toFixed(2)} | ${run.p90Ms.toFixed(2)} | ${run.p99Ms.toFixed(2)} | ${run.errors} | ${round(run.cpu.app)} | ${round(run.cpu.wrk)} | ${round(run.cpu.total)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * The goals, from the medians of the per-round ratios: against the naive setup on a plain Redis (what people copy);
 * the same ratios against it on the project's TLS Sentinel group are shown beside them, for the Redis's share.
 */
export function comparisonGoals({ ratios, loggedInWrites, paced }: Comparison): Goal[] {
  const plain = ratios['naive, plain Redis'];
  const tls = ratios['naive, TLS Sentinel group'];
  const onTls = (value: number) => `; on TLS Sentinel: ${value.toFixed(2)} ×`;
  return [
    {
      goal: 'logged-in reads ≥ 1.1 × the naive setup’s throughput on a plain Redis',
      measured: `${plain.loggedInThroughput.toFixed(2)} ×${onTls(tls.loggedInThroughput)}`,
      met: plain.loggedInThroughput >= 1.1,
    },
    {
      goal: 'logged-in reads ≤ 0.75 × the naive setup’s app CPU per request on a plain Redis',
      measured: `${plain.loggedInAppCpu.toFixed(2)} × (all processes: ${plain.loggedInTotalCpu.toFixed(2)} ×)${onTls(tls.loggedInAppCpu)}`,
      met: plain.loggedInAppCpu <= 0.75,
    },
    {
      goal: 'Redis writes per logged-in read ≤ 0.02 (the idle timeout slides at most once a minute per session)',
      measured: loggedInWrites.toFixed(3),
      met: loggedInWrites <= 0.02,
    },
    {
      goal: 'anonymous reads ≥ 1.5 × the naive setup’s logged-in throughput on a plain Redis',
      measured: `${plain.anonymousThroughput.toFixed(2)} ×`,
      met: plain.anonymousThroughput >= 1.5,
    },
    {
      goal: 'p99 of logged-in reads at half the saturating rate < 10 ms (paced, through nginx)',
      measured: `${paced['project, logged in'].p99Ms.toFixed(2)} ms (naive on a plain Redis: ${paced['naive, plain Redis'].p99Ms.toFixed(2)} ms)`,
      met: paced['project, logged in'].p99Ms < 10,
    },
  ];
}
