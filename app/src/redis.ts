import { createClient, ErrorReply } from 'redis';
import type { Config } from './config.ts';
import { ServiceUnavailableError } from './errors.ts';
import type { Logger } from './log.ts';
import { createRedisTrust, type RedisTrust } from './redis-trust.ts';

/** A node-redis client for one server, as createRedisConnection makes it (the cache's, and each session server's). */
export type RedisConnection = ReturnType<typeof createRedisConnection>;

/**
 * A client that fails fast instead of queueing: a request that needs Redis while it is away gets a 503 at once
 * (refused connection) or after `commandTimeoutMs` (a frozen or partitioned server), never node-redis's
 * default wait, and the client keeps reconnecting by itself with capped, jittered backoff.
 */
export function createRedisConnection(
  {
    url,
    name,
    connectTimeoutMs,
    trust,
  }: {
    url: string;
    /** The client name Redis shows (CLIENT LIST): the instance id. */
    name: string;
    /** How long one connection attempt may take (TCP and TLS); the client retries by itself after it. */
    connectTimeoutMs: number;
    /** What a rediss:// server's certificate is verified against. */
    trust: RedisTrust;
  },
  log: Logger,
) {
  const client = createClient({
    url,
    name,
    // Reject commands while reconnecting rather than hold requests in the offline queue.
    disableOfflineQueue: true,
    // node-redis's command timeout (default 5 s, an AbortSignal per command) only covers commands not yet written;
    // withDeadline() bounds the whole wait instead, so the per-command signal is turned off (measured: ~3% of a read).
    commandOptions: { timeout: 0 },
    // Bound what can pile up in memory during a partition; beyond this, commands fail at once.
    commandsQueueMaxLength: 1000,
    socket: {
      connectTimeout: connectTimeoutMs,
      // 50 ms, 100 ms, ... capped at 500 ms, plus jitter so many instances don't reconnect in lockstep.
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 500) + Math.floor(Math.random() * 50),
      ...tlsOptions(url, trust),
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

/** What a client verifies its servers against when not handed the process's shared, reloadable trust (server.ts). */
export const trustOf = (config: Pick<Config, 'redis'>) => createRedisTrust(config.redis.tlsCaFile, config.redis.tlsCa);

/** rediss://: the server's certificate is verified (Node's default), against REDIS_TLS_CA_FILE when given. */
export const tlsOptions = (url: string, trust: RedisTrust) =>
  new URL(url).protocol === 'rediss:' ? { tls: true as const, ca: trust.ca } : {};

export class DeadlineExceededError extends Error {
  constructor(timeoutMs: number) {
    super(`no reply from redis within ${timeoutMs} ms`);
  }
}

/**
 * Error replies that mean "not now" rather than "wrong": loading the AOF after a restart, full, failing over
 * (a demoted primary answers READONLY; one cut off from its replicas, NOREPLICAS: min-replicas-to-write), or a
 * cluster's slot that moved under a write sent straight to the shard that held it (writeAndWait; the cluster client
 * follows the move on its next command there, the session read that comes first in every request).
 */
const TRANSIENT_REPLY = /^(LOADING|OOM|BUSY|TRYAGAIN|MASTERDOWN|READONLY|NOREPLICAS|CLUSTERDOWN|MOVED|ASK)\b/;

/** A failed Redis command as the error handler should see it: "not now" (503) or a bug (the error itself, a 500). */
export const asHttpError = (err: unknown) =>
  err instanceof ErrorReply && !TRANSIENT_REPLY.test(err.message) ? err : new ServiceUnavailableError(err);

/** No failover to wait for: one server's client, or a cluster's (which follows moves by itself). */
const noGrace = () => 0;

/**
 * Awaits a Redis command for at most `timeoutMs`. A frozen or partitioned server never answers a command that was
 * already written, and node-redis waits for that reply forever: this bounds what a request can wait. A command still
 * waiting at the deadline while its client follows a failover waits on for `failoverGrace()` ms (redis-sentinel.ts:
 * a planned switchover pauses writes for about a second: they are held, then answered).
 * Failures are mapped for the error handler: Redis did not answer (closed, refused, too slow) or answered "not now"
 * (TRANSIENT_REPLY) becomes a 503 with Retry-After; any other error reply (a bug, a permission problem) stays a 500.
 */
export async function withDeadline<T>(command: Promise<T>, timeoutMs: number, failoverGrace = noGrace): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = (ms: number) =>
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new DeadlineExceededError(ms)), ms);
    });
  try {
    try {
      return await Promise.race([command, deadline(timeoutMs)]);
    } catch (err) {
      const grace = err instanceof DeadlineExceededError ? failoverGrace() : 0;
      if (grace <= 0) throw err;
      return await Promise.race([command, deadline(grace)]);
    }
  } catch (err) {
    throw asHttpError(err);
  } finally {
    clearTimeout(timer);
  }
}
