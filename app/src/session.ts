import { sign, unsign } from 'cookie-signature';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import type { Config } from './config.ts';
import { cookieName, cookieValues, keepOnlyCookie } from './cookies.ts';
import type { Metrics } from './metrics.ts';
import type { SessionRedis } from './session-redis.ts';
import { isRead } from './reads.ts';
import { createSessionIndex } from './session-index.ts';
import { SessionStore } from './session-store.ts';
import { deviceCode } from './user-agent.ts';

export type Sessions = ReturnType<typeof createSessions>;

const COOKIE = 'sid';
const ANONYMOUS = Object.freeze({}) as Request['session'];
const MAX_CANDIDATES = 3;

/**
 * express-session on the shared store, configured as its README recommends for a login app:
 * no session until login (`saveUninitialized: false`), no write unless something changed (`resave: false`).
 * The cookie is a browser-session cookie; the server decides when the session ends (Redis TTL + loginAt).
 * Its name is `__Host-sid` over HTTPS and `sid` over plain HTTP (cookies.ts), so there is one express-session per name.
 */
export function createSessions({
  config,
  redis,
  metrics,
}: {
  config: Pick<Config, 'session' | 'redis'>;
  redis: SessionRedis;
  metrics?: Pick<Metrics, 'observeStore' | 'loginUnreplicated' | 'sessionsRevoked'>;
}) {
  const cookie = { httpOnly: true, sameSite: 'lax', path: '/' } as const;
  const { secrets } = config.session;
  const index = createSessionIndex({
    redis,
    secrets,
    idleTimeoutS: config.session.idleTimeoutS,
    absoluteTimeoutS: config.session.absoluteTimeoutS,
    maxSessionsPerUser: config.session.maxPerUser,
  });
  /** The user a request is logging in: regenerate's new id is made for them (session-index.ts). */
  const loggingIn = new WeakMap<Request, string>();
  // One store per express-session: express-session hands its store the function that makes new sessions (with
  // their cookie options), so a shared store would create plain-HTTP sessions with the HTTPS cookie options.
  const createMode = (secure: boolean) => {
    const store = new SessionStore({
      redis,
      idleTimeoutS: config.session.idleTimeoutS,
      absoluteTimeoutS: config.session.absoluteTimeoutS,
      cookie,
      index,
      ...(metrics
        ? {
            observe: metrics.observeStore,
            onUnreplicated: metrics.loginUnreplicated,
            onCapEnded: (count: number) => metrics.sessionsRevoked('device_cap', count),
          }
        : {}),
    });
    const handler = session({
      name: cookieName(COOKIE, { secure }),
      genid: (req) => index.newId(loggingIn.get(req)),
      secret: secrets,
      store,
      resave: false,
      saveUninitialized: false,
      cookie: { ...cookie, secure },
    });
    return { store, handler };
  };
  const modes = { plain: createMode(false), secure: createMode(true) };
  const modeOf = (req: Request) => (req.secure ? modes.secure : modes.plain);

  /** Clears the session cookie with the attributes it was set with (a browser matches them). */
  const clearCookie = (req: Request, res: Response) =>
    res.clearCookie(cookieName(COOKIE, req), { ...cookie, secure: req.secure });

  /**
   * Of several cookies of our name, the ones we signed, in header order, at most MAX_CANDIDATES (a planted one costs
   * at most that many lookups). express-session reads the first cookie of its name, so a planted `sid=junk` or a
   * `sid` we signed whose session is gone, sent beside the real one (a sibling subdomain's, or anyone's on the path
   * over plain HTTP), would make the user anonymous and have the real cookie cleared: the one whose session exists
   * wins. Of two live ones, the first wins (over HTTPS, `__Host-sid` cannot be planted).
   */
  const candidatesOf = (req: Request) =>
    cookieValues(req, cookieName(COOKIE, req))
      .map((value) => ({ value, ...signedId(value, secrets) }))
      .filter((candidate): candidate is Candidate => candidate.id !== undefined)
      .slice(0, MAX_CANDIDATES);

  /** The first candidate whose session exists, with it; else undefined. One lookup for the usual single cookie. */
  async function liveOf(req: Request, candidates: Candidate[]) {
    for (const candidate of candidates) {
      const data = await modeOf(req).store.get(candidate.id);
      if (data?.user) return { ...candidate, data };
    }
    return undefined;
  }

  const middleware: RequestHandler = async (req, res, next) => {
    const candidates = candidatesOf(req);
    if (isRead(req)) return read(req, res, next, candidates);
    // A write loads the session through express-session; with several candidates, the live one is found first.
    const chosen = candidates.length > 1 ? ((await liveOf(req, candidates)) ?? candidates[0]) : candidates[0];
    keepOnlyCookie(req, cookieName(COOKIE, req), chosen?.value);
    modeOf(req).handler(req, res, (err?: unknown) => {
      next(err);
    });
  };

  /**
   * Reads (reads.ts: GET and HEAD are most of the traffic) skip express-session: they never write the session, and express-session
   * would spend more CPU on one than the rest of the request (a Session and a Cookie object, two hashes of it for
   * change detection, wrapped `res.end`/`writeHead`), measured in the bench against connect-redis's README setup.
   * What it would do is done here: the signed cookie checked under every secret (candidatesOf), one store read (which
   * slides the idle timeout and enforces the absolute one). The session is frozen: a write during a read throws
   * instead of being lost. Without a cookie of ours there is nothing to load, and no Redis call.
   */
  async function read(req: Request, res: Response, next: NextFunction, candidates: Candidate[]) {
    if (candidates.length === 0) {
      req.session = ANONYMOUS;
      return next();
    }
    const live = await liveOf(req, candidates);
    req.sessionID = live?.id ?? candidates[0]!.id;
    req.session = live ? (Object.freeze(live.data) as Request['session']) : ANONYMOUS;
    // A cookie whose session is gone (expired, logged out elsewhere) costs a lookup on every request until the
    // browser closes: a read that finds nothing tells the browser to drop it. Only when no cookie we signed is live:
    // clearing "sid" deletes the browser's real cookie too. A foreign cookie costs nothing and is left alone.
    if (!live) clearCookie(req, res);
    // A live cookie signed under an older secret (a rotation: SESSION_SECRET lists the new one first) is signed again
    // under the newest as its user comes back, as express-session would set it, so the old secret can be dropped
    // (docs/operations.md, Rotating credentials) without logging anyone out who came back in the meantime.
    else if (!live.newest)
      res.cookie(cookieName(COOKIE, req), `s:${sign(live.id, secrets[0]!)}`, { ...cookie, secure: req.secure });
    next();
  }

  return {
    middleware,
    /** Listing and ending a user's sessions ("Your sessions"). */
    index,
    /**
     * Logs the request's browser in, in the one order that is safe: a new session id (an id planted before login,
     * session fixation, is worthless), the user, the permission to create the key, and the write, before the
     * caller redirects, so the next request finds it on whichever instance.
     */
    async login(req: Request, username: string): Promise<void> {
      loggingIn.set(req, username);
      await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
      req.session.user = { username };
      req.session.loginAt = Date.now();
      modeOf(req).store.allowCreate(req.session, deviceCode(req.get('user-agent')));
      await saveSession(req);
    },
    /** Deletes the session in Redis (every instance sees the cookie as anonymous from here) and the cookie. */
    async logout(req: Request, res: Response): Promise<void> {
      // A logout whose session is already gone (a retry, after a first try that no replica confirmed) still ends the
      // session its cookie names, so the end runs where that session lived (its Redis Cluster shard) and is confirmed
      // by that shard's replica like the first try. express-session would destroy the fresh id it made for this
      // request instead, which may live on another shard, whose replica would confirm it at once (cluster.test.ts).
      const presented = req.session.user ? undefined : candidatesOf(req)[0]?.id;
      if (presented) await modeOf(req).store.destroy(presented);
      else await new Promise<void>((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
      clearCookie(req, res);
    },
  };
}

/** Writes a changed session now, so a failed write is an error response rather than a success that did not happen. */
export function saveSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
}

/**
 * The session id in express-session's cookie (`s:<id>.<signature>`) if any configured secret signed it, read as
 * express-session reads it (cookie-signature's `unsign`, tried under each secret, newest first); otherwise none.
 */
function signedId(raw: string, secrets: readonly string[]): { id?: string; newest?: boolean } {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return {};
  }
  if (!value.startsWith('s:')) return {};
  for (const [i, secret] of secrets.entries()) {
    const id = unsign(value.slice(2), secret);
    if (id !== false) return { id, newest: i === 0 };
  }
  return {};
}

/** A cookie of ours: its value, the session id it carries, and whether the newest secret signed it. */
type Candidate = { value: string; id: string; newest?: boolean };
