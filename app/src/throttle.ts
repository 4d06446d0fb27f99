import { createHash } from 'node:crypto';
import type { Config } from './config.ts';
import type { RedisClient } from './redis.ts';
import { withDeadline } from './redis.ts';

export const THROTTLE_PREFIX = 'login-fail:';

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;

/**
 * Login attempts counted in Redis, shared by every instance, in fixed windows: tight per account, loose per client
 * address, so one address cannot sweep many accounts while a shared address (an office NAT) is not locked out by a
 * single account's failures.
 * An attempt is counted *before* the password is checked, in one atomic MULTI: checking first and counting after the
 * (slow, by design) password hash would let concurrent guesses all pass the check. A success takes its attempt back.
 */
export function createLoginThrottle({ redis, config }: { redis: RedisClient; config: Pick<Config, 'throttle' | 'redis'> }) {
  const { maxFailuresPerAccount, maxFailuresPerClient, windowS } = config.throttle;
  // Hashed so that arbitrary user input never becomes a key name (and key names reveal no user names).
  const accountKey = (username: string) =>
    `${THROTTLE_PREFIX}user:${createHash('sha256').update(username.trim().toLowerCase()).digest('base64url').slice(0, 22)}`;
  const clientKey = (address: string) => `${THROTTLE_PREFIX}ip:${address}`;
  const run = <T>(command: Promise<T>) => withDeadline(command, config.redis.commandTimeoutMs);

  return {
    /** Counts an attempt; returns the seconds to wait if it is over a limit (refuse it), or 0 (go ahead). */
    async attempt(username: string, address: string): Promise<number> {
      const account = accountKey(username);
      const client = clientKey(address);
      const [accountAttempts, , accountTtl, clientAttempts, , clientTtl] = await run(
        redis
          .multi()
          .incr(account)
          .expire(account, windowS, 'NX')
          .ttl(account)
          .incr(client)
          .expire(client, windowS, 'NX')
          .ttl(client)
          .exec(),
      );
      const wait = (attempts: unknown, ttl: unknown, max: number) => (Number(attempts) > max ? Math.max(1, Number(ttl)) : 0);
      return Math.max(
        wait(accountAttempts, accountTtl, maxFailuresPerAccount),
        wait(clientAttempts, clientTtl, maxFailuresPerClient),
      );
    },

    /** The password was right: the account starts afresh and the address gets its attempt back. */
    async succeeded(username: string, address: string): Promise<void> {
      const client = clientKey(address);
      // EXPIRE NX: should the window have ended meanwhile, DECR recreates the key, and it must not outlive a window.
      await run(redis.multi().del(accountKey(username)).decr(client).expire(client, windowS, 'NX').exec());
    },
  };
}
