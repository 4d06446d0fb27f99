import { createHash } from 'node:crypto';

// Every Redis key the app writes, named in one place. The session Redis holds sessions, their per-user indexes
// ("Your sessions") and the login throttle's counters; the cache Redis (or memcached) holds the catalogue's copies.
// The `app` user's ACL (infra/redis/render-acl.sh) allows exactly these prefixes, the cache user's `cache:*` only.
//
//   sess:{<tag>}<random>   a session (a string with a TTL); <tag> names its user (session-index.ts)
//   sess:<id>              a session id made before the index (no user tag)
//   sess-idx:{<tag>}       a user's index: field <random>, value "<login time, s, base 36> <device code>"
//   login-fail:user:<hash> failed logins of an account (its name hashed: no user input in key names)
//   login-fail:ip:<addr>   failed logins from a client address
//   cache:…                the catalogue's cached products (catalog/config.ts's prefix)

export const SESSION_PREFIX = 'sess:';
export const INDEX_PREFIX = 'sess-idx:';
export const THROTTLE_PREFIX = 'login-fail:';
export const CACHE_PREFIX = 'cache:';

/** An indexed session id: `<tag>.<random>` (session-index.ts makes them at login). */
const TAGGED_ID = /^([\w-]{12})\.([\w-]{22})$/;

/** Whether a session id is indexed (made by newId for a user). */
export const isIndexedId = (sid: string) => TAGGED_ID.test(sid);

/**
 * The Redis key of a session id: hash-tagged for an indexed id (the braces are a Redis Cluster hash tag, so a user's
 * sessions and index share one slot and one script may touch them all), plain for any other.
 */
export function sessionKey(sid: string): string {
  const tagged = TAGGED_ID.exec(sid);
  return tagged ? `${SESSION_PREFIX}{${tagged[1]}}${tagged[2]}` : SESSION_PREFIX + sid;
}

/** The index of an indexed session id: its key, its field, and the prefix of its siblings' keys. */
export function indexOf(sid: string) {
  const tagged = TAGGED_ID.exec(sid);
  if (!tagged) return undefined;
  return { key: `${INDEX_PREFIX}{${tagged[1]}}`, field: tagged[2]!, siblings: `${SESSION_PREFIX}{${tagged[1]}}` };
}

/** The throttle's counter of an account: the name normalised and hashed, so key names reveal no user names. */
export const accountThrottleKey = (username: string) =>
  `${THROTTLE_PREFIX}user:${createHash('sha256').update(username.trim().toLowerCase()).digest('base64url').slice(0, 22)}`;

/** The throttle's counter of a client address. */
export const addressThrottleKey = (address: string) => `${THROTTLE_PREFIX}ip:${address}`;
