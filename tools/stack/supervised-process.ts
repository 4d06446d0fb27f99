import type { Child, ExitInfo } from '../lib/child.ts';
import { waitFor } from '../lib/poll.ts';
import { StackRequestError, type State } from './state.ts';
import type { SuperviseOptions, Supervisor } from './supervisor.ts';

/**
 * The one lifecycle of every process the stack (and through it the chaos suite, the bench and the test helpers)
 * starts: the Redis nodes and Sentinels, PostgreSQL, memcached, the app instances, nginx, Prometheus, the exporters.
 * Started under the supervisor, ready once `ready` holds (failing at once if the process exits first), stopped with
 * `stopSignal` and SIGKILL after `stopTimeoutMs`, killed, paused and resumed; its state and pid for the status.
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
  const isRunning = () => Boolean(child?.isRunning());

  async function start({
    command,
    args,
    env,
    cwd,
    stdout,
    ready,
  }: Pick<SuperviseOptions, 'env' | 'cwd' | 'stdout'> & { command: string; args: string[]; ready: () => Promise<boolean> }) {
    if (isRunning()) throw new StackRequestError(409, `${name} is already running (${state})`);
    state = 'starting';
    const started = supervisor.supervise(name, command, args, {
      ...(env ? { env } : {}),
      ...(cwd ? { cwd } : {}),
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

  /** `stopSignal`, then SIGKILL after `stopTimeoutMs`; → how it exited (undefined if it was not running). */
  async function stop(): Promise<ExitInfo | undefined> {
    if (!child?.isRunning()) return undefined;
    state = 'stopping';
    // A paused (SIGSTOP) process cannot handle the stop signal: resumed first, it shuts down cleanly (Redis: the AOF).
    child.signal('SIGCONT');
    const exited = await child.stop(stopSignal, stopTimeoutMs);
    state = 'stopped';
    return exited;
  }

  async function kill() {
    if (!child?.isRunning()) return;
    await child.kill();
    state = 'killed';
  }

  /** A signal to the running process (409 otherwise); `next`, the state it puts the process in. */
  function signal(sig: 'SIGSTOP' | 'SIGCONT' | 'SIGHUP', next: State = state) {
    if (!child?.isRunning()) throw new StackRequestError(409, `${name} is not running (${state})`);
    child.signal(sig);
    state = next;
  }

  return {
    start,
    stop,
    kill,
    signal,
    pause: () => signal('SIGSTOP', 'paused'),
    resume: () => signal('SIGCONT', 'ready'),
    isRunning,
    state: () => state,
    pid: () => (child?.isRunning() ? child.pid : undefined),
  };
}
