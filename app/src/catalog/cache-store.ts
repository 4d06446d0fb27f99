import type { Logger } from '../log.ts';
import { type RedisConnection, withDeadline } from '../redis.ts';
import type { MemcachedClient } from './memcached.ts';

/**
 * Where the catalogue's cache keeps its entries: the commands cache.ts needs, the same on either engine
 * (CACHE_ENGINE). Each store bounds every command by the cache's timeout and, after a failure, says the key is
 * unavailable for a while, so pages go to the database instead of waiting on a cache that is away.
 */
export type CacheStore = {
  engine: 'redis' | 'memcached';
  /** Commands for this key may be sent now (connected, not being skipped after a failure). */
  available(key: string): boolean;
  get(key: string): Promise<string | null>;
  /** Stores `json` for `ttlMs` unless the stored entry has a higher version (`v`); resolves whether it stored. */
  setIfNotOlder(key: string, json: string, version: number, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<void>;
};

type StoreOptions = { timeoutMs: number; bypassMs: number; log: Logger };

// Writes only if what is stored is not newer: a reader that loaded version 3 before an edit wrote version 4 cannot
// put 3 back (the race that makes plain cache-aside serve the old value until the TTL). Runs under the cache user's
// ACL: only GET and SET on its own keys.
const SET_IF_NOT_OLDER = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, entry = pcall(cjson.decode, current)
  if ok and type(entry) == 'table' and tonumber(entry.v) and tonumber(entry.v) > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`;

/** The cache Redis (one node, or what the client follows): one bypass for all keys. */
export function createRedisCacheStore(redis: RedisConnection, { timeoutMs, bypassMs, log }: StoreOptions): CacheStore {
  let bypassUntil = 0;
  async function command<R>(run: () => Promise<R>): Promise<R> {
    try {
      return await withDeadline(run(), timeoutMs);
    } catch (err) {
      if (Date.now() >= bypassUntil) log.warn({ reason: (err as Error).message }, 'cache unavailable; reading from the database');
      bypassUntil = Date.now() + bypassMs;
      throw err;
    }
  }
  return {
    engine: 'redis',
    available: () => redis.isReady && Date.now() >= bypassUntil,
    get: (key) => command(() => redis.get(key)),
    setIfNotOlder: async (key, json, version, ttlMs) =>
      (await command(() => redis.eval(SET_IF_NOT_OLDER, { keys: [key], arguments: [json, String(version), String(ttlMs)] }))) ===
      1,
    delete: async (key) => void (await command(() => redis.del(key))),
  };
}

const versionOf = (stored: Buffer) => {
  try {
    return Number((JSON.parse(stored.toString()) as { v?: unknown }).v);
  } catch {
    return Number.NaN;
  }
};

/**
 * Memcached nodes (the client hashes each key to one; deadlines and skipping a failed node are the client's). The
 * version check is compare-and-swap: read the entry and its CAS token, store only if unchanged since (or add only if
 * still absent), and try again when another instance wrote in between.
 */
export function createMemcachedCacheStore(client: MemcachedClient): CacheStore {
  const ttlS = (ttlMs: number) => Math.max(1, Math.ceil(ttlMs / 1000));
  return {
    engine: 'memcached',
    available: (key) => client.available(key),
    get: async (key) => (await client.get(key))?.value.toString() ?? null,
    async setIfNotOlder(key, json, version, ttlMs) {
      const value = Buffer.from(json);
      for (let attempt = 0; attempt < 3; attempt++) {
        const current = await client.get(key);
        if (current && versionOf(current.value) > version) return false;
        const stored = await client.set(key, value, ttlS(ttlMs), current ? { cas: current.cas } : { add: true });
        if (stored) return true;
      }
      return false;
    },
    delete: (key) => client.delete(key),
  };
}
