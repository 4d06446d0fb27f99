import { RedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import type { RedisClient } from './redis.ts';
import { withDeadline } from './redis.ts';

type Callback = (err?: unknown, data?: any) => void;

declare module 'express-session' {
  interface SessionData {
    user: { username: string };
    /** Login time (ms since epoch); the absolute timeout counts from here. */
    loginAt: number;
    /** A demo preference: the one thing a logged-in user can change in the session. */
    theme: 'light' | 'dark';
  }
}

export const SESSION_PREFIX = 'sess:';

/**
 * connect-redis with four changes, each measured or tested in this repository:
 *
 * 1. One round trip per read: `GETEX key EX idle` reads the session and slides the idle timeout at once,
 *    so `touch` (an `EXPIRE` after every response in connect-redis) is not needed.
 * 2. No resurrection: a write of an existing session is `SET ... XX`, so a slow request that loaded the session
 *    before a logout cannot write it back after the logout deleted it. Only `allowCreate()`d sessions (login) use
 *    `SET ... NX`; nothing else creates sessions.
 * 3. Compact values: the cookie options are the same for every session and are not stored.
 * 4. The absolute timeout, counted from login, is enforced on every read, whatever the cookie or the TTL says.
 */
export class SessionStore extends RedisStore {
  readonly idleTimeoutS: number;
  readonly absoluteTimeoutS: number;
  readonly commandTimeoutMs: number;
  readonly #creating = new WeakSet<object>();

  constructor(options: {
    client: RedisClient;
    idleTimeoutS: number;
    absoluteTimeoutS: number;
    commandTimeoutMs: number;
    cookie: object;
  }) {
    const storedCookie = { originalMaxAge: null, expires: null, ...options.cookie };
    super({
      client: options.client,
      prefix: SESSION_PREFIX,
      serializer: {
        stringify: ({ cookie: _cookie, ...data }: SessionData) => JSON.stringify(data),
        parse: (text: string) => ({ ...JSON.parse(text), cookie: { ...storedCookie } }),
      },
    });
    this.idleTimeoutS = options.idleTimeoutS;
    this.absoluteTimeoutS = options.absoluteTimeoutS;
    this.commandTimeoutMs = options.commandTimeoutMs;
  }

  /** The next `set` of this session object may create its key (login). Every other write only updates. */
  allowCreate(session: object): void {
    this.#creating.add(session);
  }

  override async get(sid: string, cb: Callback = () => {}) {
    try {
      const text = await this.#run(this.#client.getEx(this.prefix + sid, { type: 'EX', value: this.idleTimeoutS }));
      const session = text ? await this.serializer.parse(text) : null;
      // Past the absolute timeout, whatever the TTL says (every read slides it): gone, as if it had expired.
      if (session?.loginAt && Date.now() - session.loginAt >= this.absoluteTimeoutS * 1000) {
        await this.#run(this.#client.del(this.prefix + sid));
        return cb(null, null);
      }
      cb(null, session);
    } catch (err) {
      cb(err);
    }
  }

  override async set(sid: string, session: SessionData, cb: Callback = () => {}) {
    const ttl = this.#ttlFor(session);
    if (ttl <= 0) return this.destroy(sid, cb);
    const condition = this.#creating.has(session) ? 'NX' : 'XX';
    try {
      await this.#run(
        this.#client.set(this.prefix + sid, this.serializer.stringify(session), {
          expiration: { type: 'EX', value: ttl },
          condition,
        }),
      );
      this.#creating.delete(session);
      // A null reply to XX means the session was destroyed meanwhile (logout): the write is dropped on purpose.
      cb(null);
    } catch (err) {
      cb(err);
    }
  }

  override async destroy(sid: string, cb: Callback = () => {}) {
    try {
      await this.#run(this.#client.del(this.prefix + sid));
      cb(null);
    } catch (err) {
      cb(err);
    }
  }

  /** The read already slid the idle timeout; connect-redis's EXPIRE after each response would be a second trip. */
  override async touch(_sid: string, _session: SessionData, cb: Callback = () => {}) {
    cb(null);
  }

  /** Seconds until the session must end: the idle timeout, cut short by the absolute one. */
  #ttlFor(session: SessionData): number {
    if (!session.loginAt) return this.idleTimeoutS;
    const absoluteLeftS = Math.floor((session.loginAt + this.absoluteTimeoutS * 1000 - Date.now()) / 1000);
    return Math.min(this.idleTimeoutS, absoluteLeftS);
  }

  #run<T>(command: Promise<T>): Promise<T> {
    return withDeadline(command, this.commandTimeoutMs);
  }

  get #client(): RedisClient {
    return this.client as unknown as RedisClient;
  }
}
