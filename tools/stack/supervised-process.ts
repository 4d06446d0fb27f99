import type { Child } from '../lib/child.ts';
import { waitFor } from '../lib/poll.ts';
import type { State } from './state.ts';
import type { SuperviseOptions, Supervisor } from './supervisor.ts';

/**
 * The lifecycle the stack's helper processes share (nginx, Prometheus, the Redis exporters): started under the
 * supervisor, ready once `ready` holds (failing at once if the process exits first), stopped with `stopSignal` and
 * SIGKILL after `stopTimeoutMs`; its state and pid for the status.
 */
export function createSupervisedProcess({
  supervisor,
  name,
  readyTimeoutMs,
  stopSignal,
  stopTimeoutMs,
  quiet = false,
}: {
  supervisor: Supervisor;
  name: string;
  readyTimeoutMs: number;
  stopSignal: NodeJS.Signals;
  stopTimeoutMs: number;
  /** Its output into its log file, not the console (SuperviseOptions.quiet). */
  quiet?: boolean;
}) {
  let child: Child | undefined;
  let state: State = 'stopped';

  async function start({
    command,
    args,
    env,
    stdout,
    ready,
  }: Pick<SuperviseOptions, 'env' | 'stdout'> & { command: string; args: string[]; ready: () => Promise<boolean> }) {
    state = 'starting';
    const started = supervisor.supervise(name, command, args, {
      ...(env ? { env } : {}),
      ...(stdout ? { stdout } : {}),
      quiet,
      onExit: () => (state = 'crashed'),
    });
    child = started;
    // The runner's copy of a FIFO's write end is closed once the child has its own.
    await started.spawned.finally(() => stdout?.closeWriteEnd());
    await waitFor(name, ready, { timeoutMs: readyTimeoutMs, failIf: supervisor.exitReason(started) });
    state = 'ready';
  }

  async function stop() {
    if (!child?.isRunning()) return;
    state = 'stopping';
    await child.stop(stopSignal, stopTimeoutMs);
    state = 'stopped';
  }

  return { start, stop, state: () => state, pid: () => (child?.isRunning() ? child.pid : undefined) };
}
