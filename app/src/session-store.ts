import type { Request } from 'express';
import { type SessionData, Store } from 'express-session';
import type { StoreOperation } from './metrics.ts';
import type { RedisCommands, SessionRedis } from './session-redis.ts';
import { ServiceUnavailableError } from './errors.ts';
import { isIndexedId, sessionKey } from './keys.ts';
import { DESTROY_UNINDEXED, type SessionIndex } from './session-index.ts';

declare module 'express-session' {
  interface SessionData {
    user: { username: string };
    /** Login time (ms since epoch); the absolute timeout counts from here. */
    loginAt: number;
    /** A demo preference: the one thing a logged-in user can change in the session. */
    theme: 'light' | 'dark';
  }
}

type Observe = <T>(operation: StoreOperation, command: Promise<T>) => Promise<T>;

/**
 * The most a session's idle timeout is let run down before a read slides it back: a minute, or a thirtieth of a
 * shorter timeout. A read that finds more left writes nothing, so a session read many times a minute costs Redis, its
 * replicas and every AOF one `EXPIRE` a minute instead of one per read. The price is the minute: a session ends between
 * `idle - step` and `idle` after its last read, and "last active" (read from the TTL, session-index.ts) is that old at most.
 */
export const slideStepMs = (idleTimeoutS: number) => Math.floor(Math.min(60_000, (idleTimeoutS * 1000) / 30));

/**
 * KEYS: the session. ARGV: the idle timeout (s), the TTL (ms) below which a read slides it. → the value, or nil.
 * A script writes only what it runs (effects replication, the only mode since Redis 7): a read that does not slide
 * sends nothing to the replicas or the AOF. The flags make Redis treat it as the write it may be, as it treated GETEX:
 * refused whole by a primary cut off from its replicas (NOREPLICAS, replication.conf), and `allow-oom` so that a full
 * Redis (noeviction) still serves the sessions it has.
 */
export const READ_SCRIPT = `#!lua flags=allow-oom
local value = redis.call('GET', KEYS[1])
if value and redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return value`;

/** READ_SCRIPT's arguments for an idle timeout: the same for every read. */
export const readArguments = (idleTimeoutS: number) => [
  String(idleTimeoutS),
  String(idleTimeoutS * 1000 - slideStepMs(idleTimeoutS)),
];

type Callback<T> = (err: unknown, value?: T) => void;

/** Callback-style callers (express-session) get the callback; promise-style callers get a promise that rejects. */
function settle<T>(result: Promise<T>, cb?: Callback<T>): Promise<T> | undefined {
  if (!cb) return result;
  result.then(
    (value) => cb(null, value),
    (err: unknown) => cb(err),
  );
  return undefined;
}

const unsupported = (method: string) =>
  Promise.reject(
    new Error(
      `SessionStore.${method}() is not supported: sessions are not enumerable (the app's Redis user may not SCAN or MGET)`,
    ),
  );

/**
 * express-session's Store contract on Redis, with four deliberate differences from connect-redis, each measured or
 * tested in this repository:
 *
 * 1. One round trip per read, and a write only once a minute per session: one script reads the session and slides the
 *    idle timeout when more than a minute of it has run down (READ_SCRIPT, above), so `touch` (an `EXPIRE` after every
 *    response in connect-redis) sends nothing.
 * 2. No resurrection: a write of an existing session is `SET ... XX`, so a slow request that loaded the session
 *    before a logout cannot write it back after the logout deleted it. Only a session marked by `allowCreate()`
 *    (login, in session.ts) is written with `SET ... NX`; nothing else creates sessions.
 * 3. Compact values: the cookie options are the same for every session and are not stored.
 * 4. The absolute timeout, counted from login, is enforced on every read, whatever the cookie or the TTL says.
 *
 * `all`, `ids`, `length` and `clear` are refused: the app's ACL denies the commands they need, and nothing uses them.
 */
export class SessionStore extends Store {
  readonly #redis: SessionRedis;
  readonly #idleTimeoutS: number;
  readonly #absoluteTimeoutS: number;
  readonly #storedCookie: object;
  /** READ_SCRIPT's arguments: the same for every read. */
  readonly #readArguments: string[];
  /** Sessions whose next write is their login's, with the device they log in from. */
  readonly #creating = new WeakMap<object, string>();
  readonly #index: SessionIndex | undefined;
  readonly #onCapEnded: (count: number) => void;
  readonly #observe: Observe;
  readonly #onUnreplicated: () => void;

  constructor(options: {
    /**
     * The session Redis, with its deadline and its replica wait: after a login's write, WAIT for its replicas
     * (redis.ts, writeAndWait). Every end of a session (a destroy, a login that ended sessions beyond the cap) and every
     * update of a session (a preference) must be confirmed so, or fails (503).
     */
    redis: SessionRedis;
    idleTimeoutS: number;
    absoluteTimeoutS: number;
    cookie: object;
    /** Times each command (metrics.observeStore); by default nothing is recorded. */
    observe?: Observe;
    /** The login stands, but no replica had it in time: a failover right then would lose it. */
    onUnreplicated?: () => void;
    /** Each user's sessions, indexed (session-index.ts): logins and logouts keep it; without it, logins are plain. */
    index?: SessionIndex;
    /** A login ended this many of the user's oldest sessions (MAX_SESSIONS_PER_USER). */
    onCapEnded?: (count: number) => void;
  }) {
    super();
    this.#index = options.index;
    this.#onCapEnded = options.onCapEnded ?? (() => {});
    this.#onUnreplicated = options.onUnreplicated ?? (() => {});
    this.#observe = options.observe ?? ((_operation, command) => command);
    this.#redis = options.redis;
    this.#idleTimeoutS = options.idleTimeoutS;
    this.#absoluteTimeoutS = options.absoluteTimeoutS;
    this.#storedCookie = { originalMaxAge: null, expires: null, ...options.cookie };
    this.#readArguments = readArguments(options.idleTimeoutS);
  }

  /**
   * The next `set` of this session object creates its key, and fails if the key exists; with an index, the same script
   * adds it to the user's sessions (from `device`, a deviceCode) and ends the oldest beyond the cap. Every other write updates.
   */
  allowCreate(session: object, device = '--'): void {
    this.#creating.set(session, device);
  }

  override get(sid: string, cb?: Callback<SessionData | null>) {
    return settle(this.#get(sid), cb);
  }

  override set(sid: string, session: SessionData, cb?: Callback<void>) {
    return settle(this.#set(sid, session), cb);
  }

  override destroy(sid: string, cb?: Callback<void>) {
    return settle(this.#destroy(sid), cb);
  }

  /**
   * Login's new id. The old session is ended like a logout when it was logged in (a user logging in again, or as
   * someone else); an anonymous one never held anything, so its end need not wait for the replicas.
   */
  override regenerate(req: Request, cb: (err?: unknown) => void) {
    const sid = req.sessionID;
    const ended = req.session?.user ? this.#destroy(sid) : this.#expire(sid);
    ended.then(
      () => {
        (this as unknown as { generate(req: Request): void }).generate(req);
        cb();
      },
      (err: unknown) => cb(err),
    );
  }

  /** The read slid the idle timeout if it was due; connect-redis's EXPIRE after each response would be a second trip. */
  override touch(_sid: string, _session: SessionData, cb?: Callback<void>) {
    return settle(Promise.resolve(), cb);
  }

  override all(cb?: Callback<SessionData[]>) {
    return settle(unsupported('all'), cb);
  }

  ids(cb?: Callback<string[]>) {
    return settle(unsupported('ids'), cb);
  }

  override length(cb?: Callback<number>) {
    return settle(unsupported('length'), cb);
  }

  override clear(cb?: Callback<void>) {
    return settle(unsupported('clear'), cb);
  }

  async #get(sid: string): Promise<SessionData | null> {
    const read = (on: RedisCommands) => on.eval(READ_SCRIPT, { keys: [sessionKey(sid)], arguments: this.#readArguments });
    const text = (await this.#run('read', read)) as string | null;
    if (!text) return null;
    const session = { ...JSON.parse(text), cookie: { ...this.#storedCookie } } as SessionData;
    // Past the absolute timeout, whatever the TTL says (reads slide it): gone, as if it had expired.
    if (session.loginAt && Date.now() - session.loginAt >= this.#absoluteTimeoutS * 1000) {
      await this.#expire(sid);
      return null;
    }
    return session;
  }

  async #set(sid: string, session: SessionData): Promise<void> {
    const ttl = this.#ttlFor(session);
    if (ttl <= 0) return this.#expire(sid);
    const device = this.#creating.get(session);
    const creating = device !== undefined;
    const { cookie: _cookie, ...data } = session;
    const value = JSON.stringify(data);
    const index = isIndexedId(sid) ? this.#index : undefined;
    const key = sessionKey(sid);
    const write = (on: RedisCommands): Promise<unknown> =>
      index && device !== undefined
        ? index.login(on, sid, value, ttl, device)
        : on.set(key, value, { expiration: { type: 'EX', value: ttl }, condition: creating ? 'NX' : 'XX' });
    // Sent is sent, whatever the answer: should express-session save this session again (it does at the end of a
    // response whose save failed), that write updates the key the first one may have made, rather than create it.
    this.#creating.delete(session);
    const reply = creating ? await this.#replicated(write, key) : await this.#updated(write, key);
    // A null reply to XX means the session was destroyed meanwhile (logout, revoked): the write is dropped on purpose.
    // To NX (or -1 from the login script) it means the id was not new: a login that skipped regenerate, which must
    // not pass for a success.
    if (creating && (reply === null || reply === -1)) throw new Error('SessionStore.set(): a new session reused an existing id');
    if (typeof reply === 'number' && reply > 0) this.#onCapEnded(reply);
  }

  /** A logout (or regenerate's end of the old session): done only once the replicas have it (session-index.ts). */
  async #destroy(sid: string): Promise<void> {
    const ended = this.#index
      ? this.#index.destroy(sid)
      : this.#redis.replicatedWrite((on) => on.eval(DESTROY_UNINDEXED, { keys: [sessionKey(sid)] }), [sessionKey(sid)]);
    await this.#observe('destroy', ended);
  }

  /** A session past its absolute timeout: gone whatever happens to this DEL (every read checks the timeout again). */
  async #expire(sid: string): Promise<void> {
    await this.#run('destroy', (on) => on.del(sessionKey(sid)));
  }

  /**
   * A login's write, then WAIT in the same pipeline, so a failover right after the login does not log the user out.
   * Replication stays asynchronous for the login itself: when no replica answers within the timeout the login stands
   * (the primary has it) and is counted, rather than refused. Not so when the login ended older sessions (the device
   * cap): an end of a session is never reported before a replica has it, so that login fails with a 503.
   * Logins, updates (a preference) and ends of sessions wait; idle-timeout slides and reads never do.
   */
  async #replicated<T>(write: (on: RedisCommands) => Promise<T>, key: string): Promise<T> {
    const [reply, acknowledged] = await this.#observe('write', this.#redis.writeAndWait(write, [key]));
    if (acknowledged < this.#redis.wait.replicas) {
      if (typeof reply === 'number' && reply > 0)
        throw new ServiceUnavailableError(new Error('the sessions the device cap ended are not on any replica'));
      this.#onUnreplicated();
    }
    return reply;
  }

  /**
   * An update of a logged-in session (a preference): done only once a replica has it, else a 503 with Retry-After,
   * as for an end of a session. Otherwise a primary cut off from the Sentinels and the replicas (a split brain) takes
   * it, answers 303, and loses it when it is demoted (tools/chaos/partition-scenarios.ts, splitBrain). Updates are
   * rare (a user's own action), so the wait costs nothing noticeable.
   */
  #updated<T>(write: (on: RedisCommands) => Promise<T>, key: string): Promise<T> {
    return this.#observe('write', this.#redis.replicatedWrite(write, [key]));
  }

  /** Seconds until the session must end: the idle timeout, cut short by the absolute one. */
  #ttlFor(session: SessionData): number {
    if (!session.loginAt) return this.#idleTimeoutS;
    const absoluteLeftS = Math.floor((session.loginAt + this.#absoluteTimeoutS * 1000 - Date.now()) / 1000);
    return Math.min(this.#idleTimeoutS, absoluteLeftS);
  }

  #run<T>(operation: StoreOperation, command: (on: RedisCommands) => Promise<T>): Promise<T> {
    return this.#observe(operation, this.#redis.run(command));
  }
}
