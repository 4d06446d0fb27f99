import { CLOCK_TICKS_PER_S, readProcStat } from '../lib/proc-stat.ts';
import type { AdminClient } from '../lib/redis.ts';
import type { Stack } from '../stack/start-stack.ts';
import { runLoad, type LoadSpec } from './load.ts';
import { commandDelta, settledCommandCounts, totalCommands } from './redis-stats.ts';
import { formatMs, type ScenarioRow } from './report.ts';

export type ScenarioSpec = Omit<LoadSpec, 'url' | 'durationS' | 'connections'> & Partial<LoadSpec>;

/**
 * CPU time (user + system) used so far by the app instances, in µs, from /proc: unlike req/s it barely moves when
 * other work shares the machine, so it shows what a request costs the app itself. Undefined with --url or off Linux.
 */
function appCpuMicros(stack: Stack | undefined): number | undefined {
  const stats = stack
    ?.status()
    .instances.map((instance) => (instance.pid === undefined ? undefined : readProcStat(instance.pid)));
  if (!stats || stats.some((stat) => stat === undefined)) return undefined;
  const ticks = stats.reduce((sum, stat) => sum + (stat?.cpuTicks ?? 0), 0);
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_S;
}

/** Runs load scenarios against `baseUrl`, each with the Redis commands it caused and the app CPU it cost. */
export function createMeasurer({
  baseUrl,
  admin,
  stack,
  durationS,
  connections,
}: {
  baseUrl: string;
  admin: AdminClient | undefined;
  stack: Stack | undefined;
  durationS: number;
  connections: number;
}) {
  return {
    /** One load run, with INFO commandstats before and after. */
    async measure(name: string, spec: ScenarioSpec): Promise<ScenarioRow> {
      const before = admin && (await settledCommandCounts(admin));
      const cpuBefore = appCpuMicros(stack);
      const load = await runLoad({ url: baseUrl, durationS, connections, ...spec });
      const cpuAfter = appCpuMicros(stack);
      const commands = before && admin ? commandDelta(before, await settledCommandCounts(admin)) : undefined;
      console.log(`[bench] ${name}: ${Math.round(load.rps)} req/s, p99 ${formatMs(load.p99Ms)} ms, ${load.errors} errors`);
      return {
        name,
        load,
        ...(commands ? { commands, commandsPerRequest: totalCommands(commands) / load.responses } : {}),
        ...(cpuBefore !== undefined && cpuAfter !== undefined
          ? { appCpuUsPerRequest: (cpuAfter - cpuBefore) / load.responses }
          : {}),
      };
    },
    /** Same small, fixed-rate load of logged-in reads, for comparing session counts. */
    smallReadLoad: (variants: LoadSpec['variants']) =>
      runLoad({ url: baseUrl, method: 'GET', path: '/api/session', connections: 8, overallRate: 500, durationS, variants }),
  };
}

export type Measurer = ReturnType<typeof createMeasurer>;
