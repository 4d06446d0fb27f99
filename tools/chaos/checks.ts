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

/**
 * Polls `probe` every `intervalMs` until it returns true; resolves with the ms it took, or with undefined after
 * `timeoutMs` (the caller turns that into a failed check).
 */
export async function timeUntil(probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<number | undefined> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await probe()) return performance.now() - started;
    await sleep(intervalMs);
  }
  return undefined;
}

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
