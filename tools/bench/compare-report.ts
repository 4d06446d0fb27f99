import type { Comparison } from './compare.ts';
import type { Goal } from './report.ts';

const round = (value: number) => Math.round(value).toString();

/** The side-by-side table: medians per variant, and the CPU every process of the stack spent per request. */
export function comparisonTable({ medians, rounds, durationS, connections }: Comparison): string {
  const lines = [
    `Side by side with the connect-redis README setup: ${rounds} interleaved rounds of ${durationS} s, wrk -t2 -c${connections}, GET /api/session through nginx; medians.`,
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
    'What the same runs wrote on each side’s primary (two replicas, AOF): writes per request (Redis’s dirty counter), and per 1,000 requests the bytes of replication stream (including a few hundred bytes a second that are not the app’s: Sentinel hellos, PINGs to the replicas) and of AOF growth; medians.',
    '',
    '| Variant | Redis writes / req | replication B / 1,000 req | AOF B / 1,000 req |',
    '|---|---:|---:|---:|',
  );
  for (const [name, { writes }] of Object.entries(medians)) {
    lines.push(
      `| ${name} | ${writes.perRequest.toFixed(3)} | ${round(writes.replicationBytesPer1000)} | ${Number.isNaN(writes.aofBytesPer1000) ? '–' : round(writes.aofBytesPer1000)} |`,
    );
  }
  return lines.join('\n');
}

/** The goals against the naive setup, from the medians of the per-round ratios. */
export function comparisonGoals({ ratios }: Comparison): Goal[] {
  return [
    {
      goal: 'logged-in reads ≥ 1.3 × the naive setup’s throughput',
      measured: `${ratios.loggedInThroughput.toFixed(2)} ×`,
      met: ratios.loggedInThroughput >= 1.3,
    },
    {
      goal: 'logged-in reads ≤ 0.75 × the naive setup’s app CPU per request',
      measured: `${ratios.loggedInAppCpu.toFixed(2)} × (all processes: ${ratios.loggedInTotalCpu.toFixed(2)} ×)`,
      met: ratios.loggedInAppCpu <= 0.75,
    },
    {
      goal: 'Redis writes per logged-in read ≤ 0.02 (the idle timeout slides at most once a minute per session)',
      measured: ratios.loggedInWrites.toFixed(3),
      met: ratios.loggedInWrites <= 0.02,
    },
    {
      goal: 'anonymous reads ≥ 1.5 × the naive setup’s logged-in throughput',
      measured: `${ratios.anonymousThroughput.toFixed(2)} ×`,
      met: ratios.anonymousThroughput >= 1.5,
    },
  ];
}
