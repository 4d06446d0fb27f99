import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient } from 'redis';
import { NO_WAIT, sessionRedisOver } from '../../src/session-redis.ts';
import { SessionStore } from '../../src/session-store.ts';

// A client that is never connected: refusing these methods must not need Redis.
const store = new SessionStore({
  redis: sessionRedisOver(createClient(), { commandTimeoutMs: 100, wait: NO_WAIT }),
  idleTimeoutS: 60,
  absoluteTimeoutS: 600,
  cookie: {},
});

describe('SessionStore, what it does not support', () => {
  for (const method of ['all', 'ids', 'length', 'clear'] as const) {
    it(`${method}() › rejects for promise callers and errs for callback callers, naming why`, async () => {
      const message = new RegExp(`SessionStore.${method}\\(\\) is not supported: sessions are not enumerable`);
      await assert.rejects(store[method]()!, message);
      const err = await new Promise((resolve) => store[method]((error: unknown) => resolve(error)));
      assert.match(String(err), message);
    });
  }
});
