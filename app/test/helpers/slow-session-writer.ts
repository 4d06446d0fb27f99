import type { Request } from 'express';
import express from 'express';
import supertest from 'supertest';
import { createSessions } from '../../src/session.ts';
import type { Instance } from './instance.ts';

/**
 * A third instance's session layer (`instance`'s config and Redis) with one deliberately slow handler, POST /slow: it
 * loads the session, waits for `release()`, then changes it with `change`, so the session is written back after
 * whatever ran meanwhile (a logout, a revoke). `post(cookie)` sends the request at once; `loaded` says it has read the
 * session.
 */
export function createSlowSessionWriter(
  instance: Pick<Instance, 'config' | 'redis'>,
  change: (session: Request['session']) => void,
) {
  const sessions = createSessions({ config: instance.config, redis: instance.redis });
  const released = Promise.withResolvers<void>();
  const loaded = Promise.withResolvers<void>();
  const slow = express();
  slow.use(sessions.middleware);
  slow.post('/slow', async (req, res) => {
    loaded.resolve();
    await released.promise;
    change(req.session);
    res.json({ wrote: true });
  });
  return {
    post: (cookie: string) =>
      supertest(slow)
        .post('/slow')
        .set('Cookie', cookie)
        .then((res) => res),
    loaded: loaded.promise,
    release: () => released.resolve(),
  };
}
