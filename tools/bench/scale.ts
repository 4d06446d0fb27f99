import type { AdminClient } from '../lib/redis.ts';

/** Synthetic session ids: as long as express-session's (32 characters), deterministic so cleanup needs no SCAN. */
const syntheticKey = (i: number) => `sess:bench-scale-${String(i).padStart(15, '0')}`;
const BATCH = 10_000;

/**
 * Stores sessions `from..to-1` shaped like the app's (`{"user":{"username":...},"loginAt":...}` with an EX TTL),
 * pipelined: node-redis sends every command issued in one tick as one write, so a batch is one round trip.
 */
export async function addSyntheticSessions(client: AdminClient, from: number, to: number, ttlS = 1800): Promise<void> {
  const loginAt = Date.now();
  for (let start = from; start < to; start += BATCH) {
    const writes: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(to, start + BATCH); i++) {
      const value = JSON.stringify({ user: { username: `user-${i}` }, loginAt });
      writes.push(client.set(syntheticKey(i), value, { expiration: { type: 'EX', value: ttlS } }));
    }
    await Promise.all(writes);
  }
}

export async function removeSyntheticSessions(client: AdminClient, count: number): Promise<void> {
  for (let start = 0; start < count; start += BATCH) {
    const keys = Array.from({ length: Math.min(BATCH, count - start) }, (_, i) => syntheticKey(start + i));
    // UNLINK frees memory in the background; a batch of 10k keys stays one short command.
    await client.unlink(keys);
  }
}
