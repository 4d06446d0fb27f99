import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { findExecutable } from './prereqs.ts';

export type ExitInfo = { code: number | null; signal: NodeJS.Signals | null };

type ChildOptions = {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Instead of a Node pipe (a socket, which nginx cannot reopen as /dev/stdout): an fd for the child's stdout and the stream to read it from. */
  stdout?: { fd: number; stream: Readable };
  /** An open file for the child's stdout and stderr, written by the child itself: nothing relayed line by line. */
  outputFd?: number;
  /** Receives every output line, already prefixed with `[name] `. */
  print: (line: string) => void;
  /** Called when the process exits without having been asked to (not for stop()/kill()). */
  onUnexpectedExit: (info: ExitInfo) => void;
};

// util-linux's setpriv execs the command in place (same pid) with a parent-death signal set.
const setpriv = findExecutable('setpriv');

/**
 * One supervised process. It gets its own process group (`detached`), so a Ctrl-C in the terminal
 * reaches only the stack runner, which then stops children in order instead of all at once. The price
 * of detaching is that a runner killed with SIGKILL (e.g. a test harness killing its process group)
 * would leave them running; where setpriv exists they get SIGTERM when the runner dies.
 * SIGKILL goes to the whole group: nginx's workers are the master's children and hold the listening socket,
 * so killing the master alone would leave the port taken.
 */
export function startChild({ name, command, args, env, cwd, stdout, outputFd, print, onUnexpectedExit }: ChildOptions) {
  const [file, argv] = setpriv ? [setpriv, ['--pdeathsig', 'SIGTERM', '--', command, ...args]] : [command, args];
  const stdio =
    outputFd === undefined ? (['ignore', stdout?.fd ?? 'pipe', 'pipe'] as const) : (['ignore', outputFd, outputFd] as const);
  const proc = spawn(file, argv, { env, cwd, detached: true, stdio: [...stdio] });
  let expected = false;
  let exitInfo: ExitInfo | undefined;

  const pipe = (stream: Readable) =>
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => print(`[${name}] ${line}`));
  const output = outputFd === undefined ? (stdout?.stream ?? proc.stdout) : undefined;
  if (output) pipe(output);
  if (proc.stderr) pipe(proc.stderr);

  const killGroup = () => {
    try {
      if (proc.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // the group is already empty
    }
  };
  const exited = new Promise<ExitInfo>((resolve) => {
    proc.once('exit', (code, signal) => {
      // Whatever the process left behind in its group (workers of a master that died) goes with it.
      killGroup();
      exitInfo = { code, signal };
      if (!expected) onUnexpectedExit(exitInfo);
      resolve(exitInfo);
    });
  });
  const spawned = Promise.race([once(proc, 'spawn'), once(proc, 'error').then(([err]) => Promise.reject(err))]);

  const isRunning = () => exitInfo === undefined;
  const signal = (sig: NodeJS.Signals) => {
    if (!isRunning()) return;
    if (sig === 'SIGKILL') killGroup();
    else proc.kill(sig);
  };

  return {
    name,
    pid: proc.pid,
    spawned,
    exited,
    isRunning,
    exitInfo: () => exitInfo,
    /** Sends a signal without marking the exit as expected (SIGSTOP/SIGCONT). */
    signal,
    /** SIGKILL, marked as expected. */
    kill() {
      expected = true;
      signal('SIGKILL');
      return exited;
    },
    /** `sig`, then SIGKILL if the process is still there after `timeoutMs`. */
    async stop(sig: NodeJS.Signals, timeoutMs: number): Promise<ExitInfo> {
      expected = true;
      if (!isRunning()) return exitInfo as ExitInfo;
      signal(sig);
      const timer = setTimeout(() => {
        print(`[${name}] did not exit ${timeoutMs} ms after ${sig}; sending SIGKILL`);
        signal('SIGKILL');
      }, timeoutMs);
      const info = await exited;
      clearTimeout(timer);
      return info;
    },
  };
}

export type Child = ReturnType<typeof startChild>;

export const describeExit = ({ code, signal }: ExitInfo) => (signal ? `signal ${signal}` : `code ${code}`);
