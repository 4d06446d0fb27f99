import type { Goal } from './report.ts';
import type { ScaleResult } from './scale.ts';
import type { Scenarios } from './scenarios.ts';
import { formatMs } from './report.ts';

/**
 * What the session store's read script runs inside Redis (app/src/session-store.ts): INFO commandstats counts these
 * too, but they are not round trips; only the EVAL that runs them is.
 */
const READ_SCRIPT_COMMANDS = new Set(['get', 'pttl', 'expire']);

/** The performance goals, each judged from the measured figures (a goal without its figures is left out). */
export function judgeGoals(
  { anonymous, read }: Scenarios,
  sessionBytes: { bytesPerKey: number; indexBytesPerSession: number; sessionsPerUser: number } | undefined,
  scale: ScaleResult | undefined,
  connections: number,
): Goal[] {
  const goals: Goal[] = [];
  if (read.commands && anonymous.commandsPerRequest !== undefined) {
    const sent = Object.entries(read.commands).filter(([name]) => !READ_SCRIPT_COMMANDS.has(name));
    const roundTrips = sent.reduce((sum, [, calls]) => sum + calls, 0) / read.load.responses;
    goals.push(
      {
        goal: '≤ 1.0 Redis round trip per logged-in read',
        measured: roundTrips.toFixed(3),
        // Requests in flight when a run stops reach Redis but are not counted: at most one per connection.
        met: roundTrips <= 1 + connections / read.load.responses,
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
