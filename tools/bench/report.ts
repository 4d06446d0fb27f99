import type { LoadResult } from './load.ts';
import type { ScaleResult } from './scale.ts';
import type { Scenarios } from './scenarios.ts';

export type ScenarioRow = {
  name: string;
  load: LoadResult;
  commandsPerRequest?: number;
  commands?: Record<string, number>;
  appCpuUsPerRequest?: number;
};
export type Goal = { goal: string; measured: string; met: boolean };

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '–');
const perRequest = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(2));
const breakdown = (commands: Record<string, number> | undefined, requests: number) =>
  commands && requests > 0
    ? Object.entries(commands)
        .sort(([, a], [, b]) => b - a)
        .map(([name, calls]) => `${name} ${(calls / requests).toFixed(2)}`)
        .join(', ') || 'none'
    : '';

export function scenarioTable(rows: ScenarioRow[]): string {
  const lines = [
    '| Scenario | req/s | p50 ms | p90 ms | p99 ms | errors: HTTP / socket | app CPU µs/req | Redis cmds/req | commands per request |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const { name, load, commandsPerRequest, commands, appCpuUsPerRequest } of rows) {
    const cpu = appCpuUsPerRequest === undefined ? 'n/a' : Math.round(appCpuUsPerRequest);
    lines.push(
      `| ${name} | ${Math.round(load.rps)} | ${ms(load.p50Ms)} | ${ms(load.p90Ms)} | ${ms(load.p99Ms)} | ${load.errors - load.socketErrors - load.timeouts} / ${load.socketErrors + load.timeouts} | ${cpu} | ${perRequest(commandsPerRequest)} | ${breakdown(commands, load.responses)} |`,
    );
  }
  return lines.join('\n');
}

export function goalTable(goals: Goal[]): string {
  return [
    '| Goal | Measured | |',
    '|---|---|:-:|',
    ...goals.map(({ goal, measured, met }) => `| ${goal} | ${measured} | ${met ? '✓' : '✗'} |`),
  ].join('\n');
}

export const formatMs = ms;

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** The printed report: the machine, the scenario table with what it means, the session size, the scale step, the goals. */
export function benchReport({
  setup,
  scenarios: { rows, ceiling, anonymous, read },
  sessionBytes,
  scale,
  goals,
}: {
  setup: string;
  scenarios: Scenarios;
  sessionBytes:
    { keys: number; bytesPerKey: number; valueBytes: number; indexBytesPerSession: number; sessionsPerUser: number } | undefined;
  scale: ScaleResult | undefined;
  goals: Goal[];
}): string {
  const output = [
    '',
    setup,
    '',
    scenarioTable(rows),
    '',
    `Logged-in reads ÷ anonymous: ${(read.load.rps / anonymous.load.rps).toFixed(2)} (the Redis round trip and session decoding); anonymous ÷ ceiling: ${(anonymous.load.rps / ceiling.load.rps).toFixed(2)} (middleware, no Redis).`,
    'App CPU µs/req: CPU time of the app instances (from /proc) divided by responses; steady when other work shares the machine, unlike req/s.',
    'Socket errors: read ECONNRESET when nginx closes a client keep-alive connection (keepalive_requests) after autocannon already wrote the next request; details in the JSON.',
    '',
    sessionBytes
      ? `Stored session: ${Math.round(sessionBytes.bytesPerKey)} B per key (MEMORY USAGE, ${sessionBytes.keys} keys sampled), value ${Math.round(sessionBytes.valueBytes)} B; the per-user index ("Your sessions") adds ${Math.round(sessionBytes.indexBytesPerSession)} B per session at ${sessionBytes.sessionsPerUser.toFixed(1)} sessions per user. Plain connect-redis, for comparison: 2 commands per read (GET + EXPIRE from touch) and the cookie stored in every value.`
      : 'Redis figures: n/a (no --redis-admin-url).',
  ];
  if (scale) {
    output.push(
      '',
      '| Sessions in Redis | req/s | p50 ms | p99 ms | errors |',
      '|---:|---:|---:|---:|---:|',
      `| ${scale.smallCount.toLocaleString('en')} | ${Math.round(scale.small.rps)} | ${ms(scale.small.p50Ms)} | ${ms(scale.small.p99Ms)} | ${scale.small.errors} |`,
      `| ${scale.largeCount.toLocaleString('en')} | ${Math.round(scale.large.rps)} | ${ms(scale.large.p50Ms)} | ${ms(scale.large.p99Ms)} | ${scale.large.errors} |`,
      '',
      `Redis used_memory: ${mb(scale.memoryBefore)} → ${mb(scale.memoryAfter)} for ${scale.added.toLocaleString('en')} sessions added: ${Math.round(scale.bytesPerSession)} B per session (incl. the expiry entry); loaded in ${scale.loadS.toFixed(1)} s.`,
    );
  }
  output.push('', goalTable(goals), '');
  return output.join('\n');
}
