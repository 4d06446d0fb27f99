import { readFileSync } from 'node:fs';
import { createClient } from 'redis';
import { withDeadline } from './deadline.ts';

export const redisUrl = (user: string, password: string, port: number, { host = '127.0.0.1', tls = false } = {}) =>
  `${tls ? 'rediss' : 'redis'}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}`;

/** The CA file of every stack this process made: the bench runs two stacks, each with its own CA. */
const trustedCaFiles = new Set<string>();

/**
 * The CA that signed the stack's Redis certificates: every rediss:// connection of the toolbox verifies against it,
 * read at each connection, so the runner's own probes follow a CA rotation (npm run rotate-certs -- --new-ca).
 */
export function trustRedisCa(caFile: string) {
  trustedCaFiles.add(caFile);
}

/** The trusted CAs as their files say now; a file gone with its stack's run dir (a test's, removed) is forgotten. */
function trustedCas(): Buffer[] {
  const cas: Buffer[] = [];
  for (const file of trustedCaFiles) {
    try {
      cas.push(readFileSync(file));
    } catch {
      trustedCaFiles.delete(file);
    }
  }
  return cas;
}

const tlsFor = (url: string) => (url.startsWith('rediss:') ? { tls: true as const, ca: trustedCas() } : {});

/** The URL without its password (`redis://admin@host:port`): for anything printed, logged or served. */
export function withoutPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.href;
}

const createProbeClient = (url: string, timeoutMs: number) =>
  createClient({
    url,
    socket: { reconnectStrategy: false, connectTimeout: timeoutMs, ...tlsFor(url) },
    commandOptions: { timeout: timeoutMs },
    maintNotifications: 'disabled',
  });

/**
 * Connects with node-redis (the client the app uses, so its handshake is checked against the ACL too), runs
 * `fn`, and always disconnects. No reconnects; a paused or absent server fails within `timeoutMs`.
 */
export async function withRedis<T>(
  url: string,
  fn: (client: ReturnType<typeof createProbeClient>) => Promise<T>,
  timeoutMs = 1000,
): Promise<T> {
  const client = createProbeClient(url, timeoutMs);
  client.on('error', () => {
    // reported through the rejected promise below
  });
  try {
    // A SIGSTOPped server accepts the TCP connection and then never answers the handshake.
    return await withDeadline(
      client.connect().then(() => fn(client)),
      timeoutMs,
      `redis did not answer within ${timeoutMs} ms`,
    );
  } finally {
    if (client.isOpen) client.destroy();
  }
}

export async function redisAnswersPing(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    return (await withRedis(url, (client) => client.ping(), timeoutMs)) === 'PONG';
  } catch {
    return false;
  }
}

export type AdminClient = Awaited<ReturnType<typeof connectAdmin>>;

/**
 * The tools' admin clients' command timeout. node-redis gives every command 5 s by default to leave its queue for the
 * socket, so the last of thousands of pipelined writes (the bench loading a million sessions) outlasted it behind a
 * busy Redis on a loaded machine; a tool's bulk step gets a minute.
 */
export const ADMIN_COMMAND_TIMEOUT_MS = 60_000;

/** A node-redis client for the `admin` ACL user (INFO, MEMORY USAGE, SCAN, MONITOR...); the app's user may not run these. */
export async function connectAdmin(url: string) {
  const client = createClient({
    url,
    socket: { reconnectStrategy: false, connectTimeout: 2_000, ...tlsFor(url) },
    commandOptions: { timeout: ADMIN_COMMAND_TIMEOUT_MS },
    maintNotifications: 'disabled',
  });
  client.on('error', () => {
    // Surfaces as a rejected command; the caller then fails with that error.
  });
  await client.connect();
  return client;
}
