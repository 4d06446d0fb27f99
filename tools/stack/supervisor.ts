import { closeSync, openSync } from 'node:fs';
import { describeExit, startChild, type Child } from '../lib/child.ts';
import { repoRoot } from '../lib/paths.ts';
import type { createFifoOutput } from '../lib/nginx.ts';
import { createPidRegistry } from './leftovers.ts';

export type SuperviseOptions = {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stdout?: ReturnType<typeof createFifoOutput>;
  /** Called when the process exits without having been asked to. */
  onExit: () => void;
};

/**
 * Starts the stack's processes, records each in the pid file for leftover cleanup, reports an unexpected exit
 * (it never restarts anything), and keeps the list of what runs for the last-resort kill.
 */
export function createSupervisor({
  pidsFile,
  print,
  outputFile,
}: {
  pidsFile: string;
  print: (line: string) => void;
  /** Children write their output straight into this file instead of through the runner (see StackOptions). */
  outputFile?: string;
}) {
  const registry = createPidRegistry(pidsFile);
  const outputFd = outputFile === undefined ? undefined : openSync(outputFile, 'a');
  const running = new Set<Child>();
  const log = (message: string) => print(`[stack] ${message}`);
  let closed = false;

  /**
   * The child is returned at once (and known to stop and killAll) so nothing started can be missed; await `spawned`.
   * Once the supervisor is closed (the stack is stopping), nothing new starts.
   */
  function supervise(name: string, command: string, args: string[], options: SuperviseOptions): Child {
    if (closed) throw new Error(`${name}: not started, the stack is stopping`);
    const child = startChild({
      name,
      command,
      args,
      env: options.env ?? process.env,
      cwd: options.cwd ?? repoRoot,
      ...(options.stdout && outputFd === undefined ? { stdout: options.stdout } : {}),
      ...(outputFd === undefined ? {} : { outputFd }),
      print,
      onUnexpectedExit: (info) => {
        log(`${name} exited unexpectedly (${describeExit(info)}); it is not restarted`);
        options.onExit();
      },
    });
    running.add(child);
    void child.spawned.then(
      () => registry.add(name, child.pid),
      () => undefined, // the caller awaits `spawned` and reports the error
    );
    void child.exited.then(() => {
      running.delete(child);
      registry.remove(name);
    });
    return child;
  }

  /** A `failIf` for readiness polling: the child is gone, or the stack is stopping, so waiting longer is pointless. */
  const exitReason = (child: Child) => () => {
    const info = child.exitInfo();
    if (info) return `exited during start (${describeExit(info)})`;
    return closed ? 'start cancelled, the stack is stopping' : undefined;
  };

  // Last resort if the runner dies from an exception: no orphan keeps a port.
  const killAll = () => {
    for (const child of running) child.signal('SIGKILL');
  };
  process.once('exit', killAll);

  return {
    supervise,
    exitReason,
    /** From now on nothing new starts, and whatever waits for a child to become ready gives up. */
    close: () => void (closed = true),
    killAll,
    forget: () => registry.clear(),
    /** True when children write to the output file themselves (nginx then needs no FIFO for its access log). */
    writesOutputDirectly: outputFd !== undefined,
    /** The runner's copy of the output file; the children keep theirs. */
    closeOutput: () => outputFd !== undefined && closeSync(outputFd),
  };
}

export type Supervisor = ReturnType<typeof createSupervisor>;
