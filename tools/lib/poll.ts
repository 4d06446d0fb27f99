import { setTimeout as sleep } from 'node:timers/promises';

export type PollOptions = {
  timeoutMs?: number;
  intervalMs?: number;
  /** Checked before every probe: a reason (say, the process being waited for has exited) fails at once. */
  failIf?: () => string | undefined;
};

/**
 * Polls `probe` until it returns a truthy value; resolves with that value and the ms it took, or with undefined
 * after `timeoutMs`. A probe that throws counts as "not yet". Never a fixed sleep: it returns as soon as ready.
 */
export async function poll<T>(
  probe: () => Promise<T | undefined | null | false>,
  { timeoutMs = 5_000, intervalMs = 20, failIf = () => undefined }: PollOptions = {},
): Promise<{ value: T; ms: number } | undefined> {
  const started = performance.now();
  for (;;) {
    const reason = failIf();
    if (reason) throw new Error(reason);
    const value = await probe().catch(() => undefined);
    if (value) return { value, ms: performance.now() - started };
    if (performance.now() - started > timeoutMs) return undefined;
    await sleep(intervalMs);
  }
}

/** `poll`, for readiness: resolves with the probe's value, or throws `<what>: ...` naming why it gave up. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, options: PollOptions = {}) {
  const { timeoutMs = 5_000, failIf = () => undefined } = options;
  const result = await poll(probe, {
    ...options,
    failIf: () => {
      const reason = failIf();
      return reason && `${what}: ${reason}`;
    },
  });
  if (!result) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
  return result.value;
}

/** ms until `probe` holds, or undefined after `timeoutMs` (for measurements: the caller turns that into a failed check). */
export const timeUntil = async (probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 20) =>
  (await poll(probe, { timeoutMs, intervalMs }))?.ms;
