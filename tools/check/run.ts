import { spawn } from 'node:child_process';

export type CheckResult = { ok: true } | { ok: false; problems: string[] };

/**
 * Runs a command to completion within `timeoutMs` (then SIGKILL); never throws. stdout is /dev/null unless
 * asked for: nginx opens /dev/stdout for its access log, which fails on the socket Node would provide.
 */
export function run(
  file: string,
  args: string[],
  { timeoutMs = 20_000, cwd, stdout = false }: { timeoutMs?: number; cwd?: string; stdout?: boolean } = {},
) {
  return new Promise<{ code: number; output: string }>((resolve) => {
    const child = spawn(file, args, { cwd, stdio: ['ignore', stdout ? 'pipe' : 'ignore', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk) => (output += String(chunk)));
    child.stderr?.on('data', (chunk) => (output += String(chunk)));
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 1, output: err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output: output.trim() });
    });
  });
}
