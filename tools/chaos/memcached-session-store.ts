// Harness only, never a supported mode: express-session's Store over the project's memcached client, so the chaos
// suite can show what a memcached node's loss does to sessions (docs/caching.md, "Why sessions stay on Redis").
import session from 'express-session';
import type { MemcachedClient } from '../../app/src/catalog/memcached.ts';

/** Without a cookie maxAge, a session is kept this long (memcached needs an expiry; 0 would mean "never"). */
const DEFAULT_TTL_S = 86_400;

/**
 * Each session under `<prefix><sid>` on the node the client hashes it to. get, set and destroy only: without touch,
 * express-session never calls one (resave: false); a node's error is passed on, as the contract asks, not hidden.
 */
export class MemcachedSessionStore extends session.Store {
  readonly client: MemcachedClient;
  readonly prefix: string;

  constructor({ client, prefix = 'sess:' }: { client: MemcachedClient; prefix?: string }) {
    super();
    this.client = client;
    this.prefix = prefix;
  }

  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    this.client.get(this.prefix + sid).then(
      (found) => callback(null, found ? (JSON.parse(found.value.toString()) as session.SessionData) : null),
      (err: unknown) => callback(err),
    );
  }

  override set(sid: string, data: session.SessionData, callback?: (err?: unknown) => void): void {
    const maxAgeMs = data.cookie?.maxAge;
    const ttlS = typeof maxAgeMs === 'number' ? Math.max(1, Math.ceil(maxAgeMs / 1000)) : DEFAULT_TTL_S;
    this.client.set(this.prefix + sid, Buffer.from(JSON.stringify(data)), ttlS).then(
      () => callback?.(),
      (err: unknown) => callback?.(err),
    );
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.client.delete(this.prefix + sid).then(
      () => callback?.(),
      (err: unknown) => callback?.(err),
    );
  }
}
