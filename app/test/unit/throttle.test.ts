import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpError } from '../../src/errors.ts';
import { NO_WAIT, type ReplicaWait, type SessionConnection, sessionRedisOver } from '../../src/session-redis.ts';
import { createLoginThrottle } from '../../src/throttle.ts';

/**
 * The throttle's commands on a map, behind the app's own SessionRedis (its deadline, its WAIT); keys matching `down`
 * fail as on a node that is away (a cluster's other shard).
 */
function stubRedis(down: { keys: RegExp | undefined }, replicas = { confirming: 0 }, wait: ReplicaWait = NO_WAIT) {
  const values = new Map<string, number>();
  const reach = (key: string) =>
    down.keys?.test(key) ? Promise.reject(new Error('Socket closed unexpectedly')) : Promise.resolve();
  const add = (key: string, by: number) => reach(key).then(() => values.set(key, (values.get(key) ?? 0) + by).get(key)!);
  const unused = () => Promise.reject(new Error('not a command of the throttle'));
  const connection: SessionConnection = {
    incr: (key) => add(key, 1),
    decr: (key) => add(key, -1),
    expire: (key) => reach(key).then(() => 1),
    ttl: (key) => reach(key).then(() => 900),
    del: (key) => reach(key).then(() => Number(values.delete(key))),
    wait: () => Promise.resolve(replicas.confirming),
    eval: unused,
    set: unused,
    isReady: true,
    ping: async () => 'PONG',
    connect: async () => undefined,
    close: async () => undefined,
    destroy: () => undefined,
    on: () => undefined,
  };
  return { client: sessionRedisOver(connection, { commandTimeoutMs: 100, wait }), values };
}

const config = { throttle: { maxFailuresPerAccount: 5, maxFailuresPerClient: 100, windowS: 900 } };

describe('login throttle', () => {
  for (const [away, pattern] of [
    ['the address', /^login-fail:ip:/],
    ['the account', /^login-fail:user:/],
  ] as const)
    it(`an attempt Redis could not count in full is no guess › ${away}'s counter away: 503, and what was counted is taken back`, async () => {
      const down = { keys: pattern as RegExp | undefined };
      const { client, values } = stubRedis(down);
      const throttle = createLoginThrottle({ redis: client, config });

      // Twenty tries while one counter is away: each a 503, nothing left counted.
      for (let i = 0; i < 20; i++) {
        const err = await throttle.attempt('alice', '192.0.2.1').catch((error: unknown) => error);
        assert.ok(err instanceof HttpError && err.status === 503, `attempt ${i + 1}: ${err}`);
      }
      assert.deepEqual(
        [...values.values()].filter((count) => count !== 0),
        [],
      );
      down.keys = undefined;
      assert.equal(await throttle.attempt('alice', '192.0.2.1'), 0, 'the account is not locked');
    });

  it('an attempt no replica confirmed is no guess › 503 before any password check, taken back; once one confirms, counted', async () => {
    const replicas = { confirming: 0 };
    const { client, values } = stubRedis({ keys: undefined }, replicas, { replicas: 1, timeoutMs: 10 });
    const throttle = createLoginThrottle({ redis: client, config });

    for (let i = 0; i < 20; i++) {
      const err = await throttle.attempt('alice', '192.0.2.1').catch((error: unknown) => error);
      assert.ok(err instanceof HttpError && err.status === 503, `attempt ${i + 1}: ${err}`);
    }
    assert.deepEqual([...values.values()], [0, 0]);
    replicas.confirming = 1;
    assert.equal(await throttle.attempt('alice', '192.0.2.1'), 0);
    assert.deepEqual([...values.values()], [1, 1]);
  });
});
