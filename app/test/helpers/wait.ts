// The toolbox's poller and port finder (tools/lib), with the signature these tests use.
import { waitFor as waitUntilReady } from '../../../tools/lib/poll.ts';

export { freePort } from '../../../tools/lib/ports.ts';

/** Polls `probe` until it returns something truthy (a throw counts as not yet), or fails naming `what`. */
export function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 5000, intervalMs = 20, what = 'condition' } = {},
): Promise<T> {
  return waitUntilReady(what, async () => probe(), { timeoutMs, intervalMs });
}
