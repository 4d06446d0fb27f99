import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { RedisCommands, SessionRedis } from './session-redis.ts';
import { indexOf, sessionKey } from './keys.ts';
import { deviceLabelOf } from './user-agent.ts';

// Each user's sessions, indexed so they can be listed and ended: "Your sessions". The layout, in Redis:
//
//   sess:{<tag>}<random>   the session (a string with a TTL), as before; <tag> names its user
//   sess-idx:{<tag>}       a hash: field <random>, value "<login time, s, base 36> <device code>" (user-agent.ts);
//                          TTL: the absolute timeout
//
// <tag> is the first 12 characters (base64url) of the username's HMAC under a key derived from the session secret
// that signed the cookie: key names and cookies reveal no user names, and a guessed name cannot be checked against a
// cookie without the secret. During a rotation a user has one index per configured secret (logins use the first);
// listing and ending sessions cover them all, so a session made under the old secret stays listed and revocable. The
// braces are a Redis Cluster hash tag, so a user's session keys and index share one hash slot and a script may touch
// them all. The index is written only at login, logout, revoke and listing, each one script (one round trip, atomic);
// a logged-in read still costs exactly its one read script. An entry whose session expired is pruned by the next script that
// sees it (its PTTL is gone): no key scan, no keyspace notifications, and a dead entry never looks alive.

/** An anonymous session id (no user: no tag, no index). Key names: keys.ts. */
const anonymousId = () => randomBytes(24).toString('base64url');

const tagKeyOf = (secret: string) => createHmac('sha256', secret).update('session-tag').digest();
const tagOf = (username: string, tagKey: Buffer) =>
  createHmac('sha256', tagKey).update(username).digest('base64url').slice(0, 12);

// The scripts. Lua sees replies as RESP2 (HGETALL: a flat array; a failed SET NX: false).

/** KEYS: session, index. ARGV: value, ttl s, field, entry, cap, index ttl s, siblings. → sessions ended by the cap, or -1. */
const LOGIN = `
-- Every key this writes expires: both TTLs are checked before the first write (an error after one would leave it).
for _, ttl in ipairs({ ARGV[2], ARGV[6] }) do
  if not string.match(ttl, '^[1-9]%d*$') then return redis.error_reply('ERR session-index: a TTL must be a positive integer') end
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return -1 end
local live = {}
local entries = redis.call('HGETALL', KEYS[2])
for i = 1, #entries, 2 do
  if redis.call('PTTL', ARGV[7] .. entries[i]) > 0 then
    live[#live + 1] = { entries[i], tonumber(string.match(entries[i + 1], '^%w+'), 36) or 0 }
  else
    redis.call('HDEL', KEYS[2], entries[i])
  end
end
table.sort(live, function(a, b) return a[2] < b[2] end)
local ended = 0
for i = 1, #live - tonumber(ARGV[5]) + 1 do
  redis.call('DEL', ARGV[7] .. live[i][1])
  redis.call('HDEL', KEYS[2], live[i][1])
  ended = ended + 1
end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return ended`;

/**
 * KEYS: index. ARGV: siblings, now (s), absolute timeout (s). → field, entry, PTTL ms, for each live session; dead
 * entries are removed. A session past its absolute timeout is dead whatever its TTL says (every read slides the TTL
 * back to the idle timeout, so it can outlive the absolute one until the store's next read of it): it is ended here.
 * The login time is kept in whole seconds, rounded down: a session is ended up to a second early, never late.
 */
const LIST = `
local live = {}
local entries = redis.call('HGETALL', KEYS[1])
local now, absolute = tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, #entries, 2 do
  local pttl = redis.call('PTTL', ARGV[1] .. entries[i])
  local loginAt = tonumber(string.match(entries[i + 1], '^%w+'), 36) or 0
  if pttl > 0 and loginAt + absolute <= now then
    redis.call('DEL', ARGV[1] .. entries[i])
    pttl = -2
  end
  if pttl > 0 then
    live[#live + 1] = entries[i]
    live[#live + 1] = entries[i + 1]
    live[#live + 1] = pttl
  else
    redis.call('HDEL', KEYS[1], entries[i])
  end
end
return live`;

/**
 * An end of a session is confirmed by the WAIT that follows it, and WAIT waits for the replication offset the
 * connection had after its last command. Redis 7.0 (Debian's, which the local stack and CI run) moves that offset on
 * every command; since 7.2 (the compose and Kubernetes images run 7.4) it moves only on a command that propagated
 * something (server.c, call(): `c->woff` is set only when the master offset moved). There, an end that finds nothing
 * left to end (a logout retried on another instance, after a first try's delete that no replica confirmed) would be
 * answered for the connection's older writes, which the replicas have, and reported done while the delete it depends
 * on is on the primary alone. So every end of a session first writes and removes a field of the index, which leaves
 * the data as it was (an absent index is created and deleted again; a present one keeps its entries and its TTL) but
 * is replicated, and moves the connection's offset past every earlier write on any version. Not observable on 7.0,
 * so not covered by a test here. `~` is never a session's field (those are base64url).
 */
const PROPAGATE = `
redis.call('HSET', KEYS[%INDEX%], '~', '')
redis.call('HDEL', KEYS[%INDEX%], '~')`;
const propagating = (index: number, script: string) => PROPAGATE.replaceAll('%INDEX%', String(index)) + script;

/** KEYS: a session without an index. Written, then deleted: the end propagates whether or not it was there (above). */
export const DESTROY_UNINDEXED = `
redis.call('SET', KEYS[1], '', 'PX', 1000)
return redis.call('DEL', KEYS[1])`;

/** KEYS: session, index. ARGV: field. */
const DESTROY = propagating(
  2,
  `
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1`,
);

/**
 * KEYS: index. ARGV: siblings, then "only", the handle key and a handle (end the session it names: 1, or -1 if none
 * of the user's live sessions has it), or "except" and a field (end every other session: how many were ended).
 * A handle is matched here (sha1hex, the hash Lua has), so ending one session is one round trip like the others.
 */
const REVOKE = propagating(
  1,
  `
local ended = 0
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  if ARGV[2] == 'only' then
    if string.sub(redis.sha1hex(ARGV[3] .. KEYS[1] .. '/' .. entries[i]), 1, 22) == ARGV[4] then
      redis.call('HDEL', KEYS[1], entries[i])
      if redis.call('DEL', ARGV[1] .. entries[i]) == 1 then return 1 end
      return -1
    end
  elseif entries[i] ~= ARGV[3] then
    ended = ended + redis.call('DEL', ARGV[1] .. entries[i])
    redis.call('HDEL', KEYS[1], entries[i])
  end
end
if ARGV[2] == 'only' then return -1 end
return ended`,
);

export type SessionIndex = ReturnType<typeof createSessionIndex>;
export type SessionListing = { id: string; current: boolean; device: string; createdAt: Date; lastSeenAt: Date };

/**
 * The index's operations. `secret` derives the handles the API shows (an HMAC of the session's field: a handle
 * cannot be turned back into a cookie, and is stable while the session lives).
 */
export function createSessionIndex(options: {
  /** The session Redis; every end of a session waits for its replicas (SessionRedis.replicatedWrite: 503 otherwise). */
  redis: SessionRedis;
  /** The session secrets, newest first: the first keys new tags and the handles, every one is looked up. */
  secrets: readonly string[];
  idleTimeoutS: number;
  absoluteTimeoutS: number;
  maxSessionsPerUser: number;
}) {
  const { redis, secrets, idleTimeoutS, absoluteTimeoutS, maxSessionsPerUser } = options;
  const secret = secrets[0]!;
  const tagKeys = secrets.map(tagKeyOf);
  /** The user's indexes, one per configured secret (the first: where logins go now). */
  const indexesOfUser = (username: string) => tagKeys.map((key) => indexOf(`${tagOf(username, key)}.${'A'.repeat(22)}`)!);
  // An end of a session is reported done only once a replica has it: a failover cannot bring the session back. Its
  // script always propagates (PROPAGATE), so the WAIT covers everyone's earlier writes too: a logout retried on
  // another instance, finding the key already deleted by a first try that was not confirmed, is not confirmed either
  // until that delete has reached a replica (failover.test.ts, cluster.test.ts).
  const durably = <T>(key: string, command: (on: RedisCommands) => Promise<T>) => redis.replicatedWrite(command, [key]);
  // A handle: SHA-1 over a key derived from the secret, the index key and the field, as the REVOKE script computes
  // it. The field cannot be read back from it, and without the key no handle can be made for a field. The key reaches
  // Redis as a script argument (MONITOR and SLOWLOG show it to operators, who can read the fields anyway); the secret
  // it is derived from never does.
  const handleKey = createHmac('sha256', secret).update('session-handle').digest('hex');
  const handleOf = (indexKey: string, field: string) =>
    createHash('sha1').update(`${handleKey}${indexKey}/${field}`).digest('hex').slice(0, 22);

  async function list(username: string, currentSid?: string): Promise<SessionListing[]> {
    const listings = await Promise.all(indexesOfUser(username).map((index) => listIndex(index, currentSid)));
    return listings.flat().sort((a, b) => b.lastSeenAt.getTime() - a.lastSeenAt.getTime());
  }

  async function listIndex(index: NonNullable<ReturnType<typeof indexOf>>, currentSid?: string): Promise<SessionListing[]> {
    const now = Date.now();
    const reply = (await redis.run((on) =>
      on.eval(LIST, {
        keys: [index.key],
        arguments: [index.siblings, String(Math.floor(now / 1000)), String(absoluteTimeoutS)],
      }),
    )) as (string | number)[];
    const current = currentSid ? indexOf(currentSid)?.field : undefined;
    const sessions: SessionListing[] = [];
    for (let i = 0; i < reply.length; i += 3) {
      const field = String(reply[i]);
      const entry = String(reply[i + 1]);
      const separator = entry.indexOf(' ');
      const createdAt = new Date(parseInt(entry.slice(0, separator), 36) * 1000);
      // A read slides the TTL back to the idle timeout once a minute has run down (session-store.ts), so the time it
      // has lost since is the time since the last read, to the minute: a later read that did not slide came less than
      // a minute after. Cut short by the absolute timeout, the TTL says less: never before the login, never in the future.
      const sinceMs = idleTimeoutS * 1000 - Number(reply[i + 2]);
      const lastSeenAt = new Date(Math.min(now, Math.max(createdAt.getTime(), now - sinceMs)));
      sessions.push({
        id: handleOf(index.key, field),
        current: field === current,
        device: deviceLabelOf(entry.slice(separator + 1)),
        createdAt,
        lastSeenAt,
      });
    }
    return sessions;
  }

  return {
    list,

    /** A new session id: `<tag>.<random>` (128 random bits) for a login, so its key lands in the user's slot and index. */
    newId(username?: string): string {
      return username === undefined ? anonymousId() : `${tagOf(username, tagKeys[0]!)}.${randomBytes(16).toString('base64url')}`;
    },

    /** The login's write (instead of SET NX): the session, its index entry (`device`: a deviceCode), the cap. → ended, or -1. */
    login(on: RedisCommands, sid: string, value: string, ttlS: number, device: string, now = Date.now()): Promise<number> {
      const index = indexOf(sid)!;
      const entry = `${Math.floor(now / 1000).toString(36)} ${device}`;
      return on.eval(LOGIN, {
        keys: [sessionKey(sid), index.key],
        arguments: [
          value,
          String(ttlS),
          index.field,
          entry,
          String(maxSessionsPerUser),
          String(absoluteTimeoutS),
          index.siblings,
        ],
      }) as Promise<number>;
    },

    /** Logout: the session and its entry, confirmed by the replicas. */
    destroy(sid: string): Promise<unknown> {
      const index = indexOf(sid);
      return durably(sessionKey(sid), (on) =>
        index
          ? on.eval(DESTROY, { keys: [sessionKey(sid), index.key], arguments: [index.field] })
          : on.eval(DESTROY_UNINDEXED, { keys: [sessionKey(sid)] }),
      );
    },

    /** Ends the session `handle` names, if it is one of `username`'s: false when it is not (unknown, foreign, gone). */
    async revoke(username: string, handle: string): Promise<boolean> {
      for (const index of indexesOfUser(username)) {
        const reply = await durably(index.key, (on) =>
          on.eval(REVOKE, { keys: [index.key], arguments: [index.siblings, 'only', handleKey, handle] }),
        );
        if (reply === 1) return true;
      }
      return false;
    },

    /** Ends every session of `username` but `keepSid` (every one without it). → how many were ended. */
    async revokeAllBut(username: string, keepSid?: string): Promise<number> {
      const keep = (keepSid && indexOf(keepSid)?.field) || '';
      const ended = await Promise.all(
        indexesOfUser(username).map((index) =>
          durably(index.key, (on) => on.eval(REVOKE, { keys: [index.key], arguments: [index.siblings, 'except', keep] })),
        ),
      );
      return ended.reduce((sum: number, count) => sum + Number(count), 0);
    },
  };
}
