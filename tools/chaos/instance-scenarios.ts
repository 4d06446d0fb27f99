import { timeUntil } from '../lib/poll.ts';
import type { Stack } from '../stack/start-stack.ts';
import { check, fmtMs, observe, type Check } from './checks.ts';
import { isFailure, type LoadLoop } from './load-loop.ts';

/** Polls the load's own records until nginx has routed a successful request to `instance` again. */
function backInRotation(loop: LoadLoop, instance: string, timeoutMs = 15_000) {
  const from = loop.records.length;
  return timeUntil(
    async () => loop.records.slice(from).some((record) => record.instance === instance && record.status === 200),
    timeoutMs,
  );
}

/** Waits until every request sent during `phase` has been answered (each is bounded by its own timeout). */
export const settled = (loop: LoadLoop, phase: string) => timeUntil(async () => loop.inFlightOf(phase) === 0, 10_000);

const describeFailures = (records: ReturnType<LoadLoop['phase']>) => {
  const failures = records.filter(isFailure);
  const kinds = new Map<string, number>();
  for (const record of failures) {
    const kind = record.error ?? String(record.status);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return `${failures.length} of ${records.length}${failures.length ? ` (${[...kinds].map(([kind, n]) => `${kind} ×${n}`).join(', ')})` : ''}`;
};

export async function killOneInstance(stack: Stack, loop: LoadLoop, n = 2): Promise<{ checks: Check[]; figures: object }> {
  loop.mark('instance-kill');
  await stack.instances.kill(n);
  await observe(2_000);
  await stack.instances.start(n);
  const backMs = await backInRotation(loop, `app-${n}`);
  loop.mark('between');
  await settled(loop, 'instance-kill');
  const records = loop.phase('instance-kill');
  const failures = records.filter(isFailure).length;
  return {
    checks: [
      check('SIGKILL one of three instances', 'failed GETs', describeFailures(records), '0', failures === 0),
      check(
        'SIGKILL one of three instances',
        `app-${n} restarted, back in nginx rotation`,
        fmtMs(backMs),
        'served again',
        backMs !== undefined,
      ),
    ],
    figures: { requests: records.length, failures, backInRotationMs: backMs },
  };
}

/** SIGTERM each instance in turn; the next one only after nginx routes to the restarted one again. */
export async function rollingRestart(stack: Stack, loop: LoadLoop): Promise<{ checks: Check[]; figures: object }> {
  loop.mark('rolling-restart');
  const steps: { instance: string; readyMs: number; backInRotationMs: number | undefined }[] = [];
  for (const { n, id } of stack.status().instances) {
    const started = performance.now();
    await stack.instances.restart(n);
    const readyMs = performance.now() - started;
    steps.push({ instance: id, readyMs, backInRotationMs: await backInRotation(loop, id) });
  }
  loop.mark('between');
  await settled(loop, 'rolling-restart');
  const records = loop.phase('rolling-restart');
  const failures = records.filter(isFailure).length;
  const loggedOut = records.filter((record) => record.kind === 'user' && record.authenticated === false).length;
  const slowest = Math.max(...steps.map((step) => step.readyMs));
  return {
    checks: [
      check(
        'Rolling restart (SIGTERM each, wait until served again)',
        'failed requests',
        describeFailures(records),
        '0',
        failures === 0,
      ),
      check(
        'Rolling restart (SIGTERM each, wait until served again)',
        'users logged out',
        String(loggedOut),
        '0',
        loggedOut === 0,
      ),
      check(
        'Rolling restart (SIGTERM each, wait until served again)',
        'stop → ready, slowest instance',
        fmtMs(slowest),
        'all back',
        steps.every((step) => step.backInRotationMs !== undefined),
      ),
    ],
    figures: { requests: records.length, failures, loggedOut, steps },
  };
}
