import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { StackRequestError } from './state.ts';

// The control API restarts processes with settings of the caller's choosing, so it must refuse whatever a web page
// can send: a browser reaches loopback ports too, with "simple" cross-site requests (no preflight) and, through DNS
// rebinding, with any Host. A browser cannot send an Authorization header across sites without a CORS preflight,
// which this server never grants; the Host check closes rebinding; the token keeps other local users out.

/** Where a run keeps its control token: `<run dir>/secrets/control_token`, mode 0600. */
export const controlTokenFile = (runDir: string) => join(runDir, 'secrets', 'control_token');

/** A fresh token for this run, written only by the owner (the previous run's token stops working). */
export function createControlToken(runDir: string) {
  const file = controlTokenFile(runDir);
  mkdirSync(join(runDir, 'secrets'), { recursive: true, mode: 0o700 });
  chmodSync(join(runDir, 'secrets'), 0o700);
  const token = randomBytes(32).toString('base64url');
  // Removed first: `mode` only applies to a file the write creates.
  rmSync(file, { force: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, file };
}

export const readControlToken = (file: string) => readFileSync(file, 'utf8').trim();

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * Throws the refusal for a request a browser could have sent: a Host other than a loopback name with our port
 * (421), no or a wrong bearer token (401), a body that is not declared JSON (415).
 */
export function checkControlRequest(req: IncomingMessage, { token, port }: { token: string; port: number }) {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!LOOPBACK_NAMES.some((name) => host === `${name}:${port}`))
    throw new StackRequestError(421, `Host must be a loopback name with port ${port}`);
  const given = /^Bearer ([\w-]+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  if (!sameSecret(given, token))
    throw new StackRequestError(401, 'a bearer token is required (see <run dir>/secrets/control_token)');
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (hasBody && type !== 'application/json') throw new StackRequestError(415, 'a body must be Content-Type: application/json');
}

function sameSecret(given: string, expected: string) {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The settings a start or restart may change: behaviour a test varies, never code loading (NODE_OPTIONS), secrets,
 * credentials, users (DEMO_USERS) or where the instance listens and connects.
 */
export const RESTART_SETTINGS = new Set([
  'CACHE_ENABLED',
  'CACHE_TTL_S',
  'CACHE_NOT_FOUND_TTL_S',
  'CACHE_GRACE_S',
  'CACHE_TIMEOUT_MS',
  'LOG_LEVEL',
  'SESSION_IDLE_TIMEOUT_S',
  'SESSION_ABSOLUTE_TIMEOUT_S',
  'MAX_SESSIONS_PER_USER',
  'REDIS_COMMAND_TIMEOUT_MS',
  'SHUTDOWN_TIMEOUT_MS',
  'SHUTDOWN_DELAY_MS',
]);

/** The body's `env`, if every name is allowed and every value a short printable string; else a 400. */
export function allowedEnv(env: unknown): Record<string, string> | undefined {
  if (env === undefined) return undefined;
  if (typeof env !== 'object' || env === null || Array.isArray(env)) throw new StackRequestError(400, 'env must be an object');
  const refused = Object.keys(env).filter((name) => !RESTART_SETTINGS.has(name));
  if (refused.length > 0)
    throw new StackRequestError(400, `env may not set ${refused.join(', ')} (allowed: ${[...RESTART_SETTINGS].join(', ')})`);
  for (const [name, value] of Object.entries(env))
    if (typeof value !== 'string' || !/^[\x20-\x7e]{0,200}$/.test(value))
      throw new StackRequestError(400, `env.${name} must be a short printable string`);
  return env as Record<string, string>;
}
