import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One row of the results table: a measured figure and the bound it is asserted against. A row without a bound
 * (`ok` undefined) informs: it is neither a pass nor a failure, and says so.
 */
export type Check = { scenario: string; figure: string; measured: string; bound: string; ok?: boolean };

export const check = (scenario: string, figure: string, measured: string, bound: string, ok: boolean): Check => ({
  scenario,
  figure,
  measured,
  bound,
  ok,
});

/** A figure shown for understanding, with no bound to pass or fail. */
export const informative = (scenario: string, figure: string, measured: string): Check => ({
  scenario,
  figure,
  measured,
  bound: 'none (informative)',
});

export const failedChecks = (checks: Check[]) => checks.filter((c) => c.ok === false);

const verdict = ({ ok }: Check) => (ok === undefined ? 'n/a' : ok ? '✓' : '✗');

/** Keeps the load running for an observation window (a measurement period, not a wait for readiness). */
export const observe = (ms: number) => sleep(ms);

export const fmtMs = (ms: number | undefined) => (ms === undefined ? 'never' : `${Math.round(ms)} ms`);

export function checkTable(checks: Check[]): string {
  return [
    '| Scenario | Figure | Measured | Bound | |',
    '|---|---|---|---|:-:|',
    ...checks.map((row) => `| ${row.scenario} | ${row.figure} | ${row.measured} | ${row.bound} | ${verdict(row)} |`),
  ].join('\n');
}
