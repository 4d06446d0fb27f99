import type { Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import type { Config } from './config.ts';
import type { RedisClient } from './redis.ts';
import { SessionStore } from './session-store.ts';

export type Sessions = ReturnType<typeof createSessions>;

/**
 * express-session on the shared store, configured as its README recommends for a login app:
 * no session until login (`saveUninitialized: false`), no write unless something changed (`resave: false`).
 * The cookie is a browser-session cookie; the server decides when the session ends (Redis TTL + loginAt).
 */
export function createSessions({ config, redis }: { config: Pick<Config, 'session' | 'redis'>; redis: RedisClient }) {
  const cookie = { httpOnly: true, sameSite: 'lax', path: '/' } as const;
  const store = new SessionStore({
    client: redis,
    idleTimeoutS: config.session.idleTimeoutS,
    absoluteTimeoutS: config.session.absoluteTimeoutS,
    commandTimeoutMs: config.redis.commandTimeoutMs,
    cookie,
  });
  const expressSession = session({
    name: config.session.cookieName,
    secret: config.session.secrets,
    store,
    resave: false,
    saveUninitialized: false,
    // `Secure` whenever the original request was HTTPS, as reported by the trusted proxy (X-Forwarded-Proto).
    cookie: { ...cookie, secure: 'auto' },
  });

  /** Clears the session cookie with the attributes it was set with (a browser matches them). */
  const clearCookie = (res: Response) => res.clearCookie(config.session.cookieName, cookie);

  // A cookie whose session is gone (expired, logged out elsewhere) would cost a lookup on every request until the
  // browser closes: a read that finds nothing tells the browser to drop it.
  const hasCookie = (req: Request) => req.headers.cookie?.includes(`${config.session.cookieName}=`) ?? false;
  const forgetStaleCookie: RequestHandler = (req, res, next) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && !req.session.user && hasCookie(req)) clearCookie(res);
    next();
  };
  // A read without a session cookie has nothing to load and, with saveUninitialized: false, nothing to save; yet
  // express-session would make it a session ID, a session object and two hashes of it. It gets an empty session that
  // refuses writes instead (a write would be a bug: sessions begin at a POST /login).
  const anonymous = Object.freeze({}) as Request['session'];
  const loadSession: RequestHandler = (req, res, next) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && !hasCookie(req)) {
      req.session = anonymous;
      return next();
    }
    expressSession(req, res, next);
  };
  const middleware = [loadSession, forgetStaleCookie];

  return { store, middleware, clearCookie };
}

export function destroySession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
}

export function regenerateSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
}

export function saveSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
}
