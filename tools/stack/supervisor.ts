import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
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
  /**
   * A server whose output a newcomer does not need (Redis, Sentinels, PostgreSQL, memcached, Prometheus, the
   * exporters): into `<logsDir>/<name>.log` when the supervisor has a logsDir, instead of the console.
   */
  quiet?: boolean;
};

/**
 * Starts the stack's processes, records each in the pid file for leftover cleanup, reports an unexpected exit
 * (it never restarts anything), and keeps the list of what runs for the last-resort kill.
 */
export function createSupervisor({
  pidsFile,
  print,
  outputFile,
  logsDir,
}: {
  pidsFile: string;
  print: (line: string) => void;
  /** Children write their output straight into this file instead of through the runner (see StackOptions). */
  outputFile?: string;
  /** Where `quiet` children write their output, one file each (see StackOptions.verbose). */
  logsDir?: string;
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
    const ownLog = outputFd === undefined && options.quiet && logsDir !== undefined ? openLog(logsDir, name) : undefined;
    const childOutputFd = outputFd ?? ownLog;
    const child = startChild({
      name,
      command,
      args,
      env: options.env ?? process.env,
      cwd: options.cwd ?? repoRoot,
      ...(options.stdout && childOutputFd === undefined ? { stdout: options.stdout } : {}),
      ...(childOutputFd === undefined ? {} : { outputFd: childOutputFd }),
      print,
      onUnexpectedExit: (info) => {
        log(`${name} exited unexpectedly (${describeExit(info)}); it is not restarted`);
        options.onExit();
      },
    });
    running.add(child);
    // The child has its own copy of its log file once spawned (or never will); the runner's is closed.
    if (ownLog !== undefined) {
      const closeLog = () => closeSync(ownLog);
      void child.spawned.then(closeLog, closeLog);
    }
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

/** `<dir>/<name>.log`, appended to across restarts, the owner's alone (a server's log may name users or keys). */
function openLog(dir: string, name: string) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return openSync(join(dir, `${name}.log`), 'a', 0o600);
}
