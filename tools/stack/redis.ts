import { execFileSync } from 'node:child_process';
import { createClient } from 'redis';
import { shippedFiles } from './paths.ts';

/** Renders the ACL with the same script compose uses; REDIS_SERVER tells it which Redis version it targets. */
export function renderAcl(secretsDir: string, output: string, redisServer: string): void {
  execFileSync('sh', [shippedFiles.renderAcl, secretsDir, output], {
    env: { ...process.env, REDIS_SERVER: redisServer },
    stdio: 'pipe',
  });
}

/** The shipped redis.conf plus the local overrides, as command-line arguments (applied after the file). */
export function redisArgs({ port, dir, aclfile }: { port: number; dir: string; aclfile: string }): string[] {
  return [
    shippedFiles.redisConf,
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--aclfile',
    aclfile,
    '--daemonize',
    'no',
  ];
}

export const redisUrl = (user: string, password: string, port: number, host = '127.0.0.1') =>
  `redis://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}`;

const createProbeClient = (url: string, timeoutMs: number) =>
  createClient({ url, socket: { reconnectStrategy: false, connectTimeout: timeoutMs }, commandOptions: { timeout: timeoutMs } });

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
  const work = (async () => {
    await client.connect();
    return fn(client);
  })();
  work.catch(() => {
    // the loser of the race below must not become an unhandled rejection
  });
  let timer: NodeJS.Timeout | undefined;
  // A SIGSTOPped server accepts the TCP connection and then never answers the handshake.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
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
