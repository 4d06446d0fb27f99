import { createClient, ErrorReply } from 'redis';
import type { Config } from './config.ts';
import { ServiceUnavailableError } from './errors.ts';
import type { Logger } from './log.ts';
import { createRedisTrust, type RedisTrust } from './redis-trust.ts';

/**
 * The app's Redis: one server's client (createRedisClient), or a stand-in for several (redis-sentinel.ts,
 * redis-cluster.ts) that says what differs through the optional members below; one server's client has none of them.
 */
export type RedisClient = ReturnType<typeof createRedisClient> & {
  readonly [FAILOVER_GRACE]?: () => number;
  readonly [WRITER_OF]?: (key: string) => Promise<RedisClient>;
};

/**
 * A client that fails fast instead of queueing: a request that needs Redis while it is away gets a 503 at once
 * (refused connection) or after `commandTimeoutMs` (a frozen or partitioned server), never node-redis's
 * default wait, and the client keeps reconnecting by itself with capped, jittered backoff.
 */
export function createRedisClient(
  config: Pick<Config, 'redis' | 'instanceId'>,
  log: Logger,
  url = config.redis.url,
  trust = trustOf(config),
) {
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

/**
 * Set by a client whose server can be replaced under it (redis-sentinel.ts): the ms a command past its deadline may
 * still wait, because a failover is under way and the client sends the command again to the new primary; 0 otherwise.
 */
export const FAILOVER_GRACE = Symbol('failoverGrace');
const graceOf = (client: RedisClient | undefined): number => client?.[FAILOVER_GRACE]?.() ?? 0;

/**
 * Set by a client whose keys live on several servers (redis-cluster.ts): the connection to the server that takes the
 * writes of `key` now (its slot's primary). Without it, one server takes every write: the client itself.
 */
export const WRITER_OF = Symbol('writerOf');
const writerOf = async (client: RedisClient, key: string): Promise<RedisClient> => client[WRITER_OF]?.(key) ?? client;

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

/** The keys of a write: the first is the write's own (all its keys share that one's slot), then any others it needs. */
export type WriteKeys = readonly [string, ...string[]];

/**
 * A write, then WAIT in the same pipeline. WAIT counts the replicas that have every write of *its connection* so far,
 * so it must follow the write on the connection that took it: `write` is sent on the connection to the server that
 * takes `keys[0]`'s writes (one server's client, a Sentinel's primary, a cluster's shard: WRITER_OF), and WAIT right
 * behind it, both in one tick (node-redis queues a connection's commands in order and writes a tick's worth in one go,
 * after the tick: a connection lost meanwhile fails both, never one of them). Every further key of `keys` (one written
 * earlier on this client, which may live on another shard) gets a WAIT on its own server's connection in the same
 * tick, and the smallest count is the answer: every key's write must be on a replica. → the write's reply and that
 * count; with `replicas` 0, no WAIT and 0.
 */
export async function writeAndWait<T>(
  client: RedisClient,
  write: (on: RedisClient) => Promise<T>,
  { replicas, timeoutMs }: ReplicaWait,
  commandTimeoutMs: number,
  keys: WriteKeys,
): Promise<[T, number]> {
  if (replicas === 0) return [await withDeadline(write(client), commandTimeoutMs, client), 0];
  const sent = async (): Promise<[T, number[]]> => {
    const writers = await Promise.all(keys.map((key) => writerOf(client, key)));
    // Nothing is awaited between the write and its WAITs: they share a tick.
    const reply = write(writers[0]!);
    return Promise.all([reply, Promise.all([...new Set(writers)].map((writer) => writer.wait(replicas, timeoutMs)))]);
  };
  const [reply, acknowledged] = await withDeadline(sent(), commandTimeoutMs + timeoutMs, client);
  return [reply, Math.min(...acknowledged)];
}

/**
 * A write that must outlive a failover (the end of a session): done only once `replicas` replicas have it. Otherwise a
 * 503 with Retry-After, never a success: the primary has the write, but a failover now could promote a replica that
 * does not, and undo it. Retrying is safe; the retry's WAIT covers the earlier write too (WAIT waits for the
 * replication offset, which has moved past it).
 */
export async function replicatedWrite<T>(
  client: RedisClient,
  write: (on: RedisClient) => Promise<T>,
  wait: ReplicaWait,
  commandTimeoutMs: number,
  keys: WriteKeys,
): Promise<T> {
  const [reply, acknowledged] = await writeAndWait(client, write, wait, commandTimeoutMs, keys);
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
