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
export function createRedisClient(config: Pick<Config, 'redis' | 'instanceId'>, log: Logger) {
  const client = createClient({
    url: config.redis.url,
    name: config.instanceId,
    // Reject commands while reconnecting rather than hold requests in the offline queue.
    disableOfflineQueue: true,
    // A hung server must not hold requests: every command gives up after this long.
    commandOptions: { timeout: config.redis.commandTimeoutMs },
    // Bound what can pile up in memory during a partition; beyond this, commands fail at once.
    commandsQueueMaxLength: 1000,
    socket: {
      connectTimeout: config.redis.commandTimeoutMs * 2,
      // 50 ms, 100 ms, ... capped at 500 ms, plus jitter so many instances don't reconnect in lockstep.
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 500) + Math.floor(Math.random() * 50),
    },
  });

  // "You MUST listen to error events": without a listener an 'error' crashes the process.
  let lastError = '';
  client.on('error', (err: Error) => {
    // Log the first of a run of identical errors, not one per reconnect attempt.
    if (err.message !== lastError) log.warn({ err: { message: err.message, name: err.name } }, 'redis error');
    lastError = err.message;
  });
  client.on('ready', () => {
    if (lastError) log.info('redis connection restored');
    lastError = '';
  });
  return client;
}

/**
 * Redis answered with an error (a bug or a permission problem: a 500) versus Redis did not answer
 * (closed, refused, timed out: a 503 with Retry-After).
 */
export function toHttpError(err: unknown): unknown {
  return err instanceof ErrorReply ? err : new ServiceUnavailableError(err);
}

/** PING within `timeoutMs`; used by /readyz. */
export async function isRedisReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (!client.isReady) return false;
  try {
    return (await client.withCommandOptions({ timeout: timeoutMs }).ping()) === 'PONG';
  } catch {
    return false;
  }
}
