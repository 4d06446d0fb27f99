import { createHash } from 'node:crypto';
import type { Config } from './config.ts';
import type { RedisClient } from './redis.ts';
import { withDeadline } from './redis.ts';

export const THROTTLE_PREFIX = 'login-fail:';

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;

/**
 * Failed-login counters shared by every instance (fixed windows in Redis, updated with atomic INCR):
 * tight per account, loose per client address, so one address cannot sweep many accounts
 * while a shared address (an office NAT) is not locked out by a single account's failures.
 */
export function createLoginThrottle({ redis, config }: { redis: RedisClient; config: Pick<Config, 'throttle' | 'redis'> }) {
  const { maxFailuresPerAccount, maxFailuresPerClient, windowS } = config.throttle;
  // Hashed so that arbitrary user input never becomes a key name (and key names reveal no user names).
  const accountKey = (username: string) =>
    `${THROTTLE_PREFIX}user:${createHash('sha256').update(username.trim().toLowerCase()).digest('base64url').slice(0, 22)}`;
  const clientKey = (address: string) => `${THROTTLE_PREFIX}ip:${address}`;

  const run = <T>(command: () => Promise<T>) => withDeadline(command(), config.redis.commandTimeoutMs);

  return {
    /** Seconds to wait before another attempt is allowed, or 0 when the attempt may go ahead. */
    async retryAfter(username: string, address: string): Promise<number> {
      const [accountFailures, accountTtl, clientFailures, clientTtl] = await run(() =>
        redis.multi().get(accountKey(username)).ttl(accountKey(username)).get(clientKey(address)).ttl(clientKey(address)).exec(),
      );
      const blockedFor = (failures: unknown, ttl: unknown, max: number) =>
        Number(failures ?? 0) >= max ? Math.max(1, Number(ttl)) : 0;
      return Math.max(
        blockedFor(accountFailures, accountTtl, maxFailuresPerAccount),
        blockedFor(clientFailures, clientTtl, maxFailuresPerClient),
      );
    },

    async recordFailure(username: string, address: string): Promise<void> {
      await run(() =>
        redis
          .multi()
          .incr(accountKey(username))
          .expire(accountKey(username), windowS, 'NX')
          .incr(clientKey(address))
          .expire(clientKey(address), windowS, 'NX')
          .exec(),
      );
    },

    async recordSuccess(username: string): Promise<void> {
      await run(() => redis.del(accountKey(username)));
    },
  };
}
