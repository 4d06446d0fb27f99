// The ceiling the bench measures one app instance against: what a logged-in read costs with little but Node on the
// request path. It does what the app's GET /api/session does and no more: the signed `sid` cookie checked
// (cookie-signature, as the app), the session read with the app's own read script over TLS as the app's Redis user
// (one round trip; it slides the idle timeout at most once a minute), and the same JSON. No security headers, no
// metrics, no absolute timeout, no duplicate-cookie handling, no deadline.
// CEILING_FRAMEWORK=http (default): a bare node:http server; =express: the same handler as the one route of an
// Express 5 app with nothing else, so the bench can say what Express itself costs and what the app's middleware does.
// Bench-only: it listens on loopback and is never deployed. tools/bench/ceiling.ts runs it beside one app instance.
//   PORT=3201 CEILING_REDIS_URL=rediss://app:...@127.0.0.1:6380 SESSION_SECRET_FILE=... node tools/bench/ceiling/server.ts
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { unsign } from 'cookie-signature';
import express from 'express';
import { createClient } from 'redis';
import { sessionKey } from '../../../app/src/keys.ts';
import { READ_SCRIPT, readArguments } from '../../../app/src/session-store.ts';

const port = Number(process.env.PORT ?? 3201);
const secret = readFileSync(process.env.SESSION_SECRET_FILE ?? '', 'utf8').trim();
const idleTimeoutS = Number(process.env.SESSION_IDLE_TIMEOUT_S ?? 1800);
const instance = `ceiling-${process.env.CEILING_FRAMEWORK ?? 'http'}`;
if (!secret) throw new Error('SESSION_SECRET_FILE is required');

const redis = createClient({ url: process.env.CEILING_REDIS_URL });
redis.on('error', (err: Error) => console.error(`redis: ${err.message}`));
await redis.connect();
const args = readArguments(idleTimeoutS);

const SID = /(?:^|;\s*)sid=([^;]*)/;
const anonymous = JSON.stringify({ authenticated: false, user: null, instance });

/** The response body for the request's session: one Redis round trip when the cookie is one we signed. */
async function sessionBody(req: IncomingMessage): Promise<string> {
  const cookie = SID.exec(req.headers.cookie ?? '')?.[1];
  const value = cookie === undefined ? '' : decodeURIComponent(cookie);
  const id = value.startsWith('s:') ? unsign(value.slice(2), secret) : false;
  if (!id) return anonymous;
  const stored = (await redis.eval(READ_SCRIPT, { keys: [sessionKey(id)], arguments: args })) as string | null;
  const user = stored ? (JSON.parse(stored) as { user?: { username: string } }).user : undefined;
  return user ? JSON.stringify({ authenticated: true, user: { username: user.username }, instance }) : anonymous;
}

if (process.env.CEILING_FRAMEWORK === 'express') {
  const app = express();
  app.get('/api/session', async (req, res) => {
    res.type('json').send(await sessionBody(req));
  });
  app.listen(port, '127.0.0.1');
} else {
  createServer(async (req, res) => {
    const body = await sessionBody(req);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }).listen(port, '127.0.0.1');
}
