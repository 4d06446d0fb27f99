import { createClient, ErrorReply } from 'redis';
import type { Config } from './config.ts';
import { ServiceUnavailableError } from './errors.ts';
import type { Logger } from './log.ts';

export type RedisClient = ReturnType<typeof createRedisClient>;

/**
 * A client that fails fast instead of queueing: a request that needs Redis while it is away gets a 503 at once
 * (refused connection) or after `commandTimeoutMs` (a frozen or partitioned server), never node-redis's
 * default wait, and the client keeps reconnecting by itself with capped, jittered backoff.
 */
export function createRedisClient(config: Pick<Config, 'redis' | 'instanceId'>, log: Logger, url = config.redis.url) {
  const tls = new URL(url).protocol === 'rediss:';
  const client = createClient({
    url,
    name: config.instanceId,
    // Reject commands while reconnecting rather than hold requests in the offline queue.
    disableOfflineQueue: true,
    // node-redis's command timeout (default 5 s, an AbortSignal per command) only covers commands not yet written;
    // withDeadline() bounds the whole wait instead, so the per-command signal is turned off (measured: ~3% of a read).
    commandOptions: { timeout: 0 },
    // Bound what can pile up in memory during a partition; beyond this, commands fail at once.
    commandsQueueMaxLength: 1000,
    socket: {
      connectTimeout: config.redis.commandTimeoutMs * 2,
      // 50 ms, 100 ms, ... capped at 500 ms, plus jitter so many instances don't reconnect in lockstep.
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 500) + Math.floor(Math.random() * 50),
      // rediss://: the server's certificate is verified (Node's default), against REDIS_TLS_CA_FILE when given.
      ...(tls ? { tls: true as const, ca: config.redis.tlsCa } : {}),
    },
    // CLIENT MAINT_NOTIFICATIONS exists only on Redis Enterprise and Cloud; open-source Redis answers it with an error.
    maintNotifications: 'disabled',
  });

  // "You MUST listen to error events": without a listener an 'error' crashes the process.
  let lastError = '';
  client.on('error', (err: Error) => {
    // Log the first of a run of identical errors, not one per reconnect attempt.
    if (err.message !== lastError) log.warn({ reason: err.message }, 'redis error');
    lastError = err.message;
  });
  client.on('ready', () => {
    if (lastError) log.info('redis connection restored');
    lastError = '';
  });
  return client;
}

export class DeadlineExceededError extends Error {
  constructor(timeoutMs: number) {
    super(`no reply from redis within ${timeoutMs} ms`);
  }
}

/**
 * Error replies that mean "not now" rather than "wrong": loading the AOF after a restart, full, failing over
 * (a demoted primary answers READONLY; one cut off from its replicas, NOREPLICAS: min-replicas-to-write).
 */
const TRANSIENT_REPLY = /^(LOADING|OOM|BUSY|TRYAGAIN|MASTERDOWN|READONLY|NOREPLICAS|CLUSTERDOWN)\b/;

/** A failed Redis command as the error handler should see it: "not now" (503) or a bug (the error itself, a 500). */
export const asHttpError = (err: unknown) =>
  err instanceof ErrorReply && !TRANSIENT_REPLY.test(err.message) ? err : new ServiceUnavailableError(err);

/**
 * Set by a client whose server can be replaced under it (redis-sentinel.ts): the ms a command past its deadline may
 * still wait, because a failover is under way and the client sends the command again to the new primary; 0 otherwise.
 */
export const FAILOVER_GRACE = Symbol('failoverGrace');
const graceOf = (client: RedisClient | undefined): number =>
  (client as { [FAILOVER_GRACE]?: () => number } | undefined)?.[FAILOVER_GRACE]?.() ?? 0;

/**
 * Awaits a Redis command for at most `timeoutMs`. A frozen or partitioned server never answers a command that was
 * already written, and node-redis waits for that reply forever: this bounds what a request can wait. Given the
 * `client`, a command still waiting at the deadline while that client is following a failover waits on for the
 * failover's bounded grace (a planned switchover pauses writes for about a second: they are held, then answered).
 * Failures are mapped for the error handler: Redis did not answer (closed, refused, too slow) or answered "not now"
 * (TRANSIENT_REPLY) becomes a 503 with Retry-After; any other error reply (a bug, a permission problem) stays a 500.
 */
export async function withDeadline<T>(command: Promise<T>, timeoutMs: number, client?: RedisClient): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = (ms: number) =>
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new DeadlineExceededError(ms)), ms);
    });
  try {
    try {
      return await Promise.race([command, deadline(timeoutMs)]);
    } catch (err) {
      const grace = err instanceof DeadlineExceededError ? graceOf(client) : 0;
      if (grace <= 0) throw err;
      return await Promise.race([command, deadline(grace)]);
    }
  } catch (err) {
    throw asHttpError(err);
  } finally {
    clearTimeout(timer);
  }
}

/** How many replicas must confirm a write, and how long to wait for them (replicas 0: no WAIT). */
export type ReplicaWait = { replicas: number; timeoutMs: number };

/**
 * A write, then WAIT in the same pipeline (WAIT counts the replicas that have every write of this connection so far,
 * and the two are sent in one tick, so they share a connection even across a Sentinel switch). → the write's reply and
 * how many replicas confirmed it; with `replicas` 0, no WAIT and 0.
 */
export async function writeAndWait<T>(
  client: RedisClient,
  write: Promise<T>,
  { replicas, timeoutMs }: ReplicaWait,
  commandTimeoutMs: number,
): Promise<[T, number]> {
  if (replicas === 0) return [await withDeadline(write, commandTimeoutMs, client), 0];
  return withDeadline(Promise.all([write, client.wait(replicas, timeoutMs)]), commandTimeoutMs + timeoutMs, client);
}

/**
 * A write that must outlive a failover (the end of a session): done only once `replicas` replicas have it. Otherwise a
 * 503 with Retry-After, never a success: the primary has the write, but a failover now could promote a replica that
 * does not, and undo it. Retrying is safe; the retry's WAIT covers the earlier write too (WAIT waits for the
 * replication offset, which has moved past it).
 */
export async function replicatedWrite<T>(
  client: RedisClient,
  write: Promise<T>,
  wait: ReplicaWait,
  commandTimeoutMs: number,
): Promise<T> {
  const [reply, acknowledged] = await writeAndWait(client, write, wait, commandTimeoutMs);
  if (acknowledged < wait.replicas)
    throw new ServiceUnavailableError(
      new Error(`${acknowledged} of ${wait.replicas} replicas confirmed in ${wait.timeoutMs} ms`),
    );
  return reply;
}

/** PING within `timeoutMs`; used by /readyz. */
export async function isRedisReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (!client.isReady) return false;
  try {
    return (await withDeadline(client.ping(), timeoutMs)) === 'PONG';
  } catch {
    return false;
  }
}
