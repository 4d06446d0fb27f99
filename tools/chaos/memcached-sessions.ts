import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import session from 'express-session';
import { pino } from 'pino';
import { createMemcachedClient } from '../../app/src/catalog/memcached.ts';
import { send } from '../lib/http.ts';
import { timeUntil } from '../lib/poll.ts';
import type { Stack } from '../stack/start-stack.ts';
import { check, fmtMs, type Check } from './checks.ts';
import { MemcachedSessionStore } from './memcached-session-store.ts';

declare module 'express-session' {
  interface SessionData {
    user: { username: string };
  }
}

/** Enough users that a third of them is a third within a few percent (binomial: ±2.7 % at one standard deviation). */
const USERS = 300;
const PREFIX = 'sess:';

/**
 * A minimal app on an ephemeral loopback port, with its sessions in `store`: POST /login sets the user (and answers
 * the session id, so the harness knows each user's key); GET /me answers 200 with the user, 401 without one, 503
 * when the store fails. Any username logs in: it is a harness, never deployed.
 */
async function startSessionApp(store: session.Store) {
  const app = express();
  app.use(session({ store, name: 'sid', secret: crypto.randomUUID(), resave: false, saveUninitialized: false }));
  app.post('/login', express.urlencoded({ extended: false, limit: '1kb' }), (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.user = { username: String(req.body?.username) };
      req.session.save((saveErr) => (saveErr ? next(saveErr) : res.json({ sid: req.sessionID })));
    });
  });
  app.get('/me', (req, res) => {
    if (req.session.user) res.json(req.session.user);
    else res.status(401).json({ authenticated: false });
  });
  app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(503).json({ error: 'session store unavailable' });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Why sessions do not go on memcached: with them on the stack's three memcached nodes (through a harness-only store,
 * memcached-session-store.ts), 300 users logged in, one node killed. Its users (about a third: whoever's session id
 * hashed to it) can no longer use their session while it is down, and when it is back it is empty: they are logged
 * out. Everyone else is unaffected (consistent hashing moves nothing). On Redis the same loss is a failover.
 */
export async function sessionsOnMemcached(stack: Stack): Promise<{ checks: Check[]; figures: object }> {
  const nodes = stack.catalog?.cacheNodes ?? [];
  const victim = nodes[1]!;
  const victimServer = `127.0.0.1:${victim.port}`;
  const client = createMemcachedClient({
    servers: nodes.map((node) => `127.0.0.1:${node.port}`),
    tlsCa: readFileSync(stack.redisCaFile, 'utf8'),
    auth: { username: 'cache', password: readFileSync(join(stack.secretsDir, 'redis_cache_password'), 'utf8').trim() },
    // Not the catalogue's 100 ms: this row is about which sessions survive, not latency, and the runner's own event
    // loop (the load loop, this app, its TLS) can hold a reply that long; a timeout would skip a live node.
    timeoutMs: 2_000,
    bypassMs: 500,
    log: pino({ level: 'silent' }),
  });
  const app = await startSessionApp(new MemcachedSessionStore({ client, prefix: PREFIX }));
  try {
    const users: { cookie: string; onVictim: boolean }[] = [];
    for (let i = 0; i < USERS; i++) {
      const res = await send(`${app.url}/login`, { method: 'POST', form: { username: `mc-user-${i}` } });
      const cookie = [res.headers['set-cookie'] ?? []].flat()[0]?.split(';')[0];
      if (res.status !== 200 || !cookie) throw new Error(`POST /login: ${res.status || res.error}`);
      const { sid } = JSON.parse(res.body) as { sid: string };
      users.push({ cookie, onVictim: client.nodeFor(PREFIX + sid).server === victimServer });
    }
    // 20 at a time: the answers, not a burst, are what is measured.
    const statuses = async () => {
      const found: number[] = [];
      for (let i = 0; i < users.length; i += 20)
        found.push(
          ...(await Promise.all(
            users.slice(i, i + 20).map(async (user) => (await send(`${app.url}/me`, { cookie: user.cookie })).status),
          )),
        );
      return found;
    };
    const before = await statuses();
    if (before.some((status) => status !== 200)) throw new Error(`not every user is logged in: ${before.join(',')}`);

    await victim.kill();
    const during = await statuses();
    await victim.start();
    // The client skips a node for bypassMs after a failure: until then its users still get 503.
    const backMs = await timeUntil(
      async () => (await send(`${app.url}/me`, { cookie: users.find((user) => user.onVictim)!.cookie })).status !== 503,
      5_000,
      50,
    );
    const after = await statuses();

    const count = (list: number[], onVictim: boolean, status: number, equal = true) =>
      users.filter((user, i) => user.onVictim === onVictim && (list[i] === status) === equal).length;
    const onVictim = users.filter((user) => user.onVictim).length;
    const elsewhere = USERS - onVictim;
    const share = onVictim / USERS;
    const name = `sessions on memcached ×3 (harness, not a mode): memcached-2 killed, ${USERS} users`;
    const lostDuring = count(during, true, 200, false);
    const keptDuring = count(during, false, 200);
    const loggedOut = count(after, true, 401);
    const keptAfter = count(after, false, 200);
    return {
      checks: [
        check(
          name,
          'users whose session id hashed to memcached-2',
          `${onVictim} of ${USERS} (${(share * 100).toFixed(1)} %)`,
          'about a third (20–47 %)',
          share >= 0.2 && share <= 0.47,
        ),
        check(
          name,
          'while it is down: sessions unusable (503) on memcached-2, logged in elsewhere',
          `${lostDuring} of ${onVictim}; ${keptDuring} of ${elsewhere}`,
          `${onVictim} of ${onVictim}; ${elsewhere} of ${elsewhere}`,
          lostDuring === onVictim && keptDuring === elsewhere,
        ),
        check(
          name,
          'restarted (empty): logged out (401) on memcached-2, logged in elsewhere',
          `${loggedOut} of ${onVictim}; ${keptAfter} of ${elsewhere} (back after ${fmtMs(backMs)})`,
          `${onVictim} of ${onVictim}; ${elsewhere} of ${elsewhere}`,
          loggedOut === onVictim && keptAfter === elsewhere,
        ),
      ],
      figures: { users: USERS, onVictim, share, lostDuring, keptDuring, loggedOut, keptAfter, backMs },
    };
  } finally {
    await app.close();
    client.close();
  }
}
