import type { LoadResult } from './load.ts';

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
