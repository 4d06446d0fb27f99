import type { Goal } from './report.ts';
import type { ScaleResult } from './scale.ts';
import type { Scenarios } from './scenarios.ts';
import { formatMs } from './report.ts';

/** The performance goals, each judged from the measured figures (a goal without its figures is left out). */
export function judgeGoals(
  { anonymous, read, half }: Scenarios,
  sessionBytes: { bytesPerKey: number; indexBytesPerSession: number; sessionsPerUser: number } | undefined,
  scale: ScaleResult | undefined,
  connections: number,
): Goal[] {
  const goals: Goal[] = [];
  if (read.commandsPerRequest !== undefined && anonymous.commandsPerRequest !== undefined) {
    goals.push(
      {
        goal: '≤ 1.0 Redis command per logged-in read',
        measured: read.commandsPerRequest.toFixed(3),
        // Requests in flight when a run stops reach Redis but are not counted: at most one per connection.
        met: read.commandsPerRequest <= 1 + connections / read.load.responses,
      },
      {
        goal: '0 Redis commands per anonymous request',
        measured: anonymous.commandsPerRequest.toFixed(3),
        met: anonymous.commandsPerRequest === 0,
      },
    );
  }
  if (sessionBytes) {
    goals.push({
      goal: '≤ 200 bytes per stored session (MEMORY USAGE)',
      measured: `${Math.round(sessionBytes.bytesPerKey)} B`,
      met: sessionBytes.bytesPerKey <= 200,
    });
    const total = sessionBytes.bytesPerKey + sessionBytes.indexBytesPerSession;
    goals.push({
      goal: '≤ 220 bytes per session including its share of the index',
      measured: `${Math.round(total)} B (${sessionBytes.sessionsPerUser.toFixed(1)} sessions per user)`,
      met: total <= 220,
    });
  }
  goals.push({
    goal: 'p99 at half the saturating rate < 10 ms',
    measured: `${formatMs(half.load.p99Ms)} ms`,
    met: half.load.p99Ms < 10,
  });
  if (scale) {
    const { small, large } = scale;
    goals.push({
      goal: 'latency with 1M sessions ≈ 1k (p99 ≤ max(1.5×, +1 ms))',
      measured: `p50 ${formatMs(small.p50Ms)} → ${formatMs(large.p50Ms)} ms, p99 ${formatMs(small.p99Ms)} → ${formatMs(large.p99Ms)} ms`,
      met: large.p99Ms <= Math.max(1.5 * small.p99Ms, small.p99Ms + 1),
    });
  }
  return goals;
}
