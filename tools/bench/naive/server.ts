// The baseline the bench compares against: the setup connect-redis's README shows ("Full setup"), as someone would
// copy it: express 5 + express-session + connect-redis + node-redis, `resave: false`, `saveUninitialized: false`,
// nothing else on the request path (no security headers, no request log, no body parser but the login form's).
// A login route and a read route, the same JSON as the project's GET /api/session.
// Bench-only: any username logs in, no password, no CSRF check. It listens on loopback and is never deployed.
// `npm run bench` runs three of it behind the same nginx as the project (tools/bench/naive-target.ts); it connects as
// Redis's admin user (NAIVE_REDIS_URL), since the project's ACL would refuse connect-redis's GET.
//   PORT=3101 NAIVE_REDIS_URL=redis://127.0.0.1:6379 SESSION_SECRET=... node tools/bench/naive/server.ts
import { readFileSync } from 'node:fs';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';

declare module 'express-session' {
  interface SessionData {
    user: { username: string };
  }
}

const port = Number(process.env.PORT ?? 3101);
const instanceId = process.env.INSTANCE_ID ?? `naive-${port}`;
const secret =
  process.env.SESSION_SECRET ?? (process.env.SESSION_SECRET_FILE && readFileSync(process.env.SESSION_SECRET_FILE, 'utf8').trim());
if (!secret) throw new Error('SESSION_SECRET is required');

const redisClient = createClient({ url: process.env.NAIVE_REDIS_URL ?? 'redis://127.0.0.1:6379' });
redisClient.on('error', (err: Error) => console.error(`redis: ${err.message}`));
await redisClient.connect();

const app = express();
app.use(
  session({
    store: new RedisStore({ client: redisClient, prefix: 'naive:' }),
    resave: false,
    saveUninitialized: false,
    secret,
  }),
);

app.post('/login', express.urlencoded({ extended: false, limit: '1kb' }), (req, res, next) => {
  const username = typeof req.body?.username === 'string' ? req.body.username.slice(0, 64) : '';
  if (!username) return void res.status(400).json({ error: 'username required' });
  // express-session's README: regenerate at login against session fixation, save before answering.
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.user = { username };
    req.session.save((saveErr) => (saveErr ? next(saveErr) : res.redirect(303, '/api/session')));
  });
});

app.get('/api/session', (req, res) => {
  const user = req.session.user;
  res.json({ authenticated: Boolean(user), user: user ? { username: user.username } : null, instance: instanceId });
});

app.get(['/healthz', '/readyz'], (_req, res) => {
  res.json({ status: 'ok' });
});

const server = app.listen(port, '127.0.0.1');
// Above nginx's upstream keepalive_timeout, as the project's server does, so nginx closes idle sockets.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
const stop = () => server.close(() => void redisClient.close().finally(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
