import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLOCK_TICKS_PER_S } from '../lib/proc-stat.ts';

export type WrkResult = {
  responses: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx responses plus socket errors. */
  errors: number;
  /** CPU time wrk itself used (user + system), µs: the load generator's share of the machine. */
  cpuMicros: number;
};

/**
 * Drives GETs of `path` with Debian's wrk (C, event loop): measured here at 10–15 µs of CPU per request against
 * 40–57 µs for autocannon, which competes with the stack it measures for the same cores. Requests cycle through
 * `cookies` (one per logged-in user; none for anonymous reads). Bounded by `durationS`.
 */
export async function runWrk({
  url,
  path,
  cookies,
  connections,
  durationS,
  headers = {},
  rate,
}: {
  url: string;
  path: string;
  cookies: string[];
  connections: number;
  durationS: number;
  /** Sent with every request (the X-Request-Id nginx would add, when the app is driven directly). */
  headers?: Record<string, string>;
  /** Requests per second over all connections, sent on a fixed schedule (pacedLua); unset = as fast as answered. */
  rate?: number;
}): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-wrk-'));
  const script = join(dir, 'requests.lua');
  const threads = Math.min(2, connections);
  writeFileSync(
    script,
    `${rate === undefined ? '' : pacedLua(rate / threads)}local cookies = { ${cookies.map((cookie) => JSON.stringify(cookie)).join(', ')} }
local i = 0
local headers = { ${Object.entries(headers)
      .map(([name, value]) => `[${JSON.stringify(name)}] = ${JSON.stringify(value)}`)
      .join(', ')} }
request = function()
  i = i + 1
  if #cookies > 0 then headers["Cookie"] = cookies[(i % #cookies) + 1] end
  return wrk.format("GET", ${JSON.stringify(path)}, headers)
end
`,
  );
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${durationS}s`, '--latency', '-s', script, url];
  // The shell waits for wrk, then prints its own /proc stat: fields 16-17 (cutime, cstime) are wrk's CPU, exactly.
  const child = spawn('bash', ['-c', 'wrk "$@"; status=$?; cat /proc/$$/stat >&2; exit $status', 'wrk', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (err += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), (durationS + 30) * 1000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  rmSync(dir, { recursive: true, force: true });
  if (code === 127) throw new Error('wrk not found: install it with `bash tools/setup.sh --test` (Debian package wrk)');
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${err.trim().split('\n')[0]}`);
  return { ...parseWrkOutput(out), cpuMicros: childCpuMicros(err) };
}

/**
 * Debian has wrk, not wrk2: this paces it. Each wrk thread (its own Lua state) sends its requests at fixed times,
 * `perThread` a second, on whichever of its connections is free: wrk asks delay() before each request, and the answer
 * is the wait until the next slot of the schedule (wrk rounds it down to whole milliseconds; the average rate is kept).
 * Latency is measured from the send, as wrk does, so a request sent late because every connection was busy is not
 * charged its wait (wrk2 would): with enough connections for the rate, none is.
 */
function pacedLua(perThread: number) {
  return `local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]
local now = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, now) -- CLOCK_MONOTONIC
  return tonumber(now.tv_sec) * 1000 + tonumber(now.tv_nsec) / 1e6
end
local interval = ${(1000 / perThread).toFixed(6)}
local slot = nil
delay = function()
  local t = now_ms()
  slot = slot and slot + interval or t
  return math.max(0, slot - t)
end
`;
}

/** wrk's text report: latency percentiles, request count, errors, requests/s. */
export function parseWrkOutput(out: string) {
  const percentile = (p: number) => toMs(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out));
  const responses = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  if (!Number.isFinite(responses) || !Number.isFinite(rps)) throw new Error(`unexpected wrk output: ${out}`);
  return { responses, rps, p50Ms: percentile(50), p90Ms: percentile(90), p99Ms: percentile(99), errors: non2xx + socketErrors };
}

function toMs(match: RegExpExecArray | null): number {
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

function childCpuMicros(stderr: string): number {
  const stat = stderr.trim().split('\n').at(-1) ?? '';
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of proc(5), counted as in lib/proc-stat.ts (index N - 3 after the command name).
  return ((Number(fields[13]) + Number(fields[14])) * 1_000_000) / CLOCK_TICKS_PER_S;
}
