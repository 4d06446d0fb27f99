import type { AdminClient } from '../lib/redis.ts';
import type { LoadResult, LoadSpec } from './load.ts';
import type { Measurer } from './measure.ts';
import { usedMemory } from './redis-stats.ts';
import { formatMs } from './report.ts';

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

/** The same small read load with ~1k and with ~`sessions` sessions in Redis; the synthetic ones are removed afterwards. */
export async function scaleStep(client: AdminClient, { smallReadLoad }: Measurer, reads: LoadSpec['variants'], sessions: number) {
  const existing = await client.dbSize();
  const smallCount = Math.max(1000, existing);
  await addSyntheticSessions(client, 0, smallCount - existing);
  const small = await smallReadLoad(reads);
  console.log(`[bench] ${smallCount} sessions: p50 ${formatMs(small.p50Ms)} ms, p99 ${formatMs(small.p99Ms)} ms`);

  const memoryBefore = await usedMemory(client);
  const started = performance.now();
  const largeCount = Math.max(sessions, smallCount);
  await addSyntheticSessions(client, smallCount - existing, largeCount - existing);
  const loadS = (performance.now() - started) / 1000;
  const memoryAfter = await usedMemory(client);
  const added = largeCount - smallCount;
  console.log(`[bench] ${largeCount} sessions in Redis (${added} added in ${loadS.toFixed(1)} s)`);
  let large: LoadResult;
  try {
    large = await smallReadLoad(reads);
    console.log(`[bench] ${largeCount} sessions: p50 ${formatMs(large.p50Ms)} ms, p99 ${formatMs(large.p99Ms)} ms`);
  } finally {
    await removeSyntheticSessions(client, largeCount - existing);
  }
  return {
    smallCount,
    largeCount,
    small,
    large,
    memoryBefore,
    memoryAfter,
    added,
    bytesPerSession: (memoryAfter - memoryBefore) / Math.max(1, added),
    loadS,
  };
}

export type ScaleResult = Awaited<ReturnType<typeof scaleStep>>;
