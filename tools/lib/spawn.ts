import { spawn } from 'node:child_process';

export type Captured = { code: number | null; signal: NodeJS.Signals | null };

/**
 * Spawns a command and collects its stderr, and its stdout unless `stdout: false` (nginx opens /dev/stdout for its
 * access log, which fails on the socket Node would provide, so it gets /dev/null). `exited` never rejects: a command
 * that cannot start exits with code 1 and its error in the output; past `timeoutMs` it is SIGKILLed.
 */
export function spawnCaptured(
  file: string,
  args: string[],
  { cwd, env, stdout = true, timeoutMs }: { cwd?: string; env?: NodeJS.ProcessEnv; stdout?: boolean; timeoutMs?: number } = {},
) {
  const child = spawn(file, args, { cwd, env, stdio: ['ignore', stdout ? 'pipe' : 'ignore', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += String(chunk)));
  child.stderr?.on('data', (chunk) => (output += String(chunk)));
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          output += `\n(killed after ${timeoutMs} ms)`;
          child.kill('SIGKILL');
        }, timeoutMs);
  const exited = new Promise<Captured>((resolve) => {
    child.once('error', (err) => {
      output += err.message;
      resolve({ code: 1, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  }).finally(() => clearTimeout(timer));
  return { child, exited, output: () => output };
}

/** Runs a command to completion within `timeoutMs`; never throws. */
export async function run(
  file: string,
  args: string[],
  {
    timeoutMs = 20_000,
    cwd,
    env,
    stdout = false,
  }: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv; stdout?: boolean } = {},
) {
  const captured = spawnCaptured(file, args, { cwd, env, stdout, timeoutMs });
  const { code } = await captured.exited;
  return { code: code ?? 1, output: captured.output().trim() };
}
