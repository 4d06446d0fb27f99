import { setTimeout as sleep } from 'node:timers/promises';

/** One row of the results table: a measured figure and the bound it is asserted against. */
export type Check = { scenario: string; figure: string; measured: string; bound: string; ok: boolean };

export const check = (scenario: string, figure: string, measured: string, bound: string, ok: boolean): Check => ({
  scenario,
  figure,
  measured,
  bound,
  ok,
});

/** Keeps the load running for an observation window (a measurement period, not a wait for readiness). */
export const observe = (ms: number) => sleep(ms);

export const fmtMs = (ms: number | undefined) => (ms === undefined ? 'never' : `${Math.round(ms)} ms`);

export function checkTable(checks: Check[]): string {
  return [
    '| Scenario | Figure | Measured | Bound | |',
    '|---|---|---|---|:-:|',
    ...checks.map(
      ({ scenario, figure, measured, bound, ok }) => `| ${scenario} | ${figure} | ${measured} | ${bound} | ${ok ? '✓' : '✗'} |`,
    ),
  ].join('\n');
}
