import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it returns true. Fails after `timeoutMs`, or at once when `failIf` names a reason
 * (typically: the process being waited for has exited). Never a fixed sleep: it returns as soon as ready.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs = 30_000, intervalMs = 100, failIf = (): string | undefined => undefined } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = failIf();
    if (reason) throw new Error(`${what}: ${reason}`);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** The status code of a GET, or 0 when nothing answers. A fresh connection each time (no keep-alive pool). */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

export const isHttpOk = async (url: string) => (await httpStatus(url)) === 200;
