import type { Config } from './config.ts';
import { accountThrottleKey, addressThrottleKey } from './keys.ts';
import type { RedisCommands, SessionRedis } from './session-redis.ts';
import { ServiceUnavailableError } from './errors.ts';
import { asHttpError } from './redis.ts';

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;

/**
 * Login attempts counted in Redis, shared by every instance, in fixed windows: tight per account, loose per client
 * address, so one address cannot sweep many accounts while a shared address (an office NAT) is not locked out by a
 * single account's failures.
 * An attempt is counted *before* the password is checked, by INCR, whose reply is the count: checking first and
 * counting after the (slow, by design) password hash would let concurrent guesses all pass the check, while INCR
 * hands each concurrent guess its own number. A success takes its attempt back.
 *
 * No MULTI: every command is atomic on its own, and each counter's commands are pipelined in one round trip. A transaction would add nothing the
 * decision needs (it rests on INCR's reply alone), and Redis before 8.6 (redis/redis#14545) replays each MULTI … EXEC
 * block of the AOF as the `default` user, silently dropping it unless that user may run it: with `default` off and
 * `-@all`, every restart reset the brute-force counters (infra/redis/render-acl.sh says how the shipped ACL copes).
 * The window stays bounded without a transaction: EXPIRE NX follows every INCR, so a key that INCR recreated
 * meanwhile (the old window just ended) gets its expiry all the same.
 */
export function createLoginThrottle({ redis, config }: { redis: SessionRedis; config: Pick<Config, 'throttle'> }) {
  const { maxFailuresPerAccount, maxFailuresPerClient, windowS } = config.throttle;
  const accountKey = accountThrottleKey;
  const clientKey = addressThrottleKey;

  /** Counts one attempt on `key`; the seconds to wait if that makes it more than `max`, else 0. */
  const count = async (on: RedisCommands, key: string, max: number) => {
    // Sent in the same tick, so node-redis writes the three commands as one pipeline.
    const [attempts, , ttl] = await Promise.all([on.incr(key), on.expire(key, windowS, 'NX'), on.ttl(key)]);
    return attempts > max ? Math.max(1, ttl) : 0;
  };
  const uncount = (on: RedisCommands, key: string) => Promise.all([on.decr(key), on.expire(key, windowS, 'NX')]);

  return {
    /**
     * Counts an attempt; returns the seconds to wait if it is over a limit (refuse it), or 0 (go ahead).
     * The address first, and nothing more for an address already refused: otherwise each refused attempt would store
     * a counter for whatever username it names, and one address could fill Redis. So one address stores at most its
     * own counter and `maxFailuresPerClient` account counters per window.
     * Then the account, and both counts are confirmed by a replica (WAIT, in the same pipeline: it covers the address's
     * earlier INCR on this connection too) before any password is checked: a failover cannot hand an attacker fresh
     * guesses by promoting a replica that missed them. An attempt that Redis could not count in full, or that no
     * replica confirmed, is no guess (the password is never checked): what was counted is taken back before the 503.
     * The two keys may live on different nodes (a cluster's shards), so one can fail while the other counts: retrying
     * through a shard's failover must not lock the account. An increment whose reply never came (a deadline) may have
     * counted or not, and stays.
     */
    async attempt(username: string, address: string): Promise<number> {
      const client = clientKey(address);
      const clientWait = await redis.run((on) => count(on, client, maxFailuresPerClient));
      if (clientWait > 0) return clientWait;
      const account = accountKey(username);
      // WAIT for both keys, each on its own shard's connection: the address's INCR went there first.
      const [[counted], acknowledged] = await redis.writeAndWait(
        (on) => Promise.allSettled([count(on, account, maxFailuresPerAccount)]),
        [account, client],
      );
      if (counted!.status === 'rejected' || acknowledged < redis.wait.replicas) {
        const taken = counted!.status === 'fulfilled' ? [client, account] : [client];
        await redis.run((on) => Promise.all(taken.map((key) => uncount(on, key)))).catch(() => undefined);
        throw counted!.status === 'rejected'
          ? asHttpError(counted!.reason)
          : new ServiceUnavailableError(new Error('no replica confirmed the attempt'));
      }
      return counted!.value;
    },

    /** The password was right: the account starts afresh and the address gets its attempt back. */
    async succeeded(username: string, address: string): Promise<void> {
      const client = clientKey(address);
      // EXPIRE NX: should the window have ended meanwhile, DECR recreates the key, and it must not outlive a window.
      await redis.run((on) => Promise.all([on.del(accountKey(username)), on.decr(client), on.expire(client, windowS, 'NX')]));
    },
  };
}
