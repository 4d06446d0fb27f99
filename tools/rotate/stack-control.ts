import { existsSync } from 'node:fs';
import { runPaths } from '../lib/paths.ts';
import { waitFor } from '../lib/poll.ts';
import { controlTokenFile, readControlToken } from '../stack/control-auth.ts';

/** Said to the operator as is: what to do, not a stack trace. */
export class RotationError extends Error {}

/** What a rotation reads of GET /status. */
export type Status = {
  nginx: { url: string };
  redis: { mode: string; nodes: { port: number }[]; sentinels: { port: number }[] };
  cache?: { port: number };
  cacheNodes?: unknown[];
  instances: { n: number; id: string }[];
  redisExporters?: unknown[];
  runDir: string;
};

/**
 * The control API of the running local stack in `runDir` (npm start's default when undefined), with its token: a
 * rotation tool acts through it. Refused, naming the fix, when the stack was started without --control.
 */
export function controlOfStack(runDir: string | undefined, port: number) {
  const tokenFile = controlTokenFile(runPaths(runDir).runDir);
  if (!existsSync(tokenFile))
    throw new RotationError(
      `no control token in ${tokenFile}: start the stack with npm start -- --control (--run-dir as given here)`,
    );
  return controlClient(port, readControlToken(tokenFile));
}

/** The running stack's control API (npm start -- --control): its status, and the restarts a rotation needs. */
export function controlClient(port: number, token: string) {
  return async <T>(path: string, method = 'GET'): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
      // Longer than the stack's own readiness bound (60 s), so its 500 naming what never became ready comes first.
      signal: AbortSignal.timeout(90_000),
    }).catch((err: Error) => {
      if (err.name === 'TimeoutError')
        throw new RotationError(`${method} ${path}: no answer within 90 s (the stack's log says why)`);
      throw new RotationError(
        `no control API on 127.0.0.1:${port} (${err.message}): start the stack with npm start -- --control (--control-port as given here)`,
      );
    });
    const body = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new RotationError(`${method} ${path}: ${res.status} ${body.error ?? ''}`);
    return body;
  };
}
export type Control = ReturnType<typeof controlClient>;

/**
 * Each instance restarted (the stack takes it out of nginx's rotation first), ready, and served by nginx again before
 * the next: never fewer instances in rotation than all but one.
 */
export async function restartInstances(control: Control, status: Status, log: (line: string) => void) {
  for (const { n, id } of status.instances) {
    const started = performance.now();
    await control(`/instances/${n}/restart`, 'POST');
    const ready = performance.now() - started;
    await waitFor(`nginx sending requests to ${id} again`, () => servedBy(status.nginx.url, id), {
      timeoutMs: BACK_IN_ROTATION_TIMEOUT_MS,
      intervalMs: 50,
    });
    log(
      `${id} restarted onto the new files: ready in ${Math.round(ready)} ms, served by nginx again after ` +
        `${Math.round(performance.now() - started)} ms`,
    );
  }
}

/**
 * Each instance reads REDIS_TLS_CA_FILE again (SIGHUP, through the control API; no restart), and is done once its
 * metrics say so: its next Redis connections verify against what the file holds now.
 */
export async function reloadInstances(control: Control, status: Status, log: (line: string) => void) {
  const started = performance.now();
  for (const { n } of status.instances) await control(`/instances/${n}/reload`, 'POST');
  log(
    `${status.instances.map(({ id }) => id).join(', ')} read redis_ca.crt again (SIGHUP, no restart): ` +
      `${Math.round(performance.now() - started)} ms`,
  );
}

/** Well above nginx's fail_timeout (5 s). */
const BACK_IN_ROTATION_TIMEOUT_MS = 20_000;

/** Whether nginx's answer to a /readyz came from instance `id` (round robin: a few tries reach each instance). */
async function servedBy(nginxUrl: string, id: string) {
  const res = await fetch(`${nginxUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.headers.get('x-instance-id') === id;
}
