import { setTimeout as sleep } from 'node:timers/promises';
import type { AdminClient } from '../lib/redis.ts';

/** Calls per command since the last CONFIG RESETSTAT, from INFO commandstats (`cmdstat_eval:calls=12,...`). */
export async function commandCounts(client: AdminClient): Promise<Map<string, number>> {
  const text = await client.info('commandstats');
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts.set(match[1] ?? '', Number(match[2]));
  return counts;
}

/**
 * Not the app's: the INFO calls that take the snapshots, and the Sentinel group's own traffic on the primary (the
 * replicas' REPLCONF ACK every second; the Sentinels' PING, INFO, ROLE and hello PUBLISH). The app's own PING is
 * only /readyz, which the load never asks.
 */
const NOT_THE_APP = new Set(['info', 'replconf', 'psync', 'ping', 'publish', 'subscribe', 'role']);

/** The app's commands run between two snapshots, by name. */
export function commandDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, calls] of after) {
    const added = calls - (before.get(name) ?? 0);
    if (added > 0 && !NOT_THE_APP.has(name)) delta[name] = added;
  }
  return delta;
}

/**
 * Polls INFO commandstats until no command ran between two polls (100 ms apart, at most `timeoutMs`): requests
 * still in flight when a load run stops (queued logins, say) are then counted in that run, not in the next one.
 */
export async function settledCommandCounts(client: AdminClient, timeoutMs = 5_000): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let previous = await commandCounts(client);
  for (;;) {
    await sleep(100);
    const current = await commandCounts(client);
    if (totalCommands(commandDelta(previous, current)) === 0 || Date.now() > deadline) return current;
    previous = current;
  }
}

export const totalCommands = (delta: Record<string, number>) => Object.values(delta).reduce((sum, calls) => sum + calls, 0);

export async function infoField(client: AdminClient, section: string, field: string): Promise<string> {
  const text = await client.info(section);
  const value = new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim();
  if (value === undefined) throw new Error(`INFO ${section}: no ${field}`);
  return value;
}

/** What a primary has written so far: its writes (the dirty counter), its replication stream and its AOF, in bytes. */
export async function writeCounters(client: AdminClient) {
  const persistence = await client.info('persistence');
  const replication = await client.info('replication');
  const field = (text: string, name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    writes: field(persistence, 'rdb_changes_since_last_save'),
    replicationBytes: field(replication, 'master_repl_offset'),
    aofBytes: field(persistence, 'aof_current_size'),
  };
}

export type WriteCounters = Awaited<ReturnType<typeof writeCounters>>;

export const usedMemory = async (client: AdminClient) => Number(await infoField(client, 'memory', 'used_memory'));

/**
 * MEMORY USAGE (key, value and allocator overhead as Redis accounts them) of up to `count` session keys,
 * found with SCAN (never KEYS): average bytes per key and average value length.
 */
export async function sampleSessionBytes(client: AdminClient, count: number, match = 'sess:*') {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const page = await client.scan(cursor, { MATCH: match, COUNT: 1000 });
    cursor = String(page.cursor);
    keys.push(...page.keys.slice(0, count - keys.length));
  } while (cursor !== '0' && keys.length < count);
  if (keys.length === 0) throw new Error(`no keys match ${match}`);
  let memory = 0;
  let valueBytes = 0;
  for (const key of keys) {
    // SAMPLES 0: exact for a string value.
    memory += (await client.memoryUsage(key, { SAMPLES: 0 })) ?? 0;
    valueBytes += await client.strLen(key);
  }
  return {
    keys: keys.length,
    bytesPerKey: memory / keys.length,
    valueBytes: valueBytes / keys.length,
    ...(await sampleIndexBytes(client)),
  };
}

/**
 * The per-user session indexes ("Your sessions", sess-idx:{tag}): their MEMORY USAGE over the sessions they list,
 * i.e. what each session costs in the index, its user's key included.
 */
async function sampleIndexBytes(client: AdminClient) {
  let cursor = '0';
  let memory = 0;
  let entries = 0;
  let indexes = 0;
  do {
    const page = await client.scan(cursor, { MATCH: 'sess-idx:*', COUNT: 1000 });
    cursor = String(page.cursor);
    for (const key of page.keys) {
      memory += (await client.memoryUsage(key, { SAMPLES: 0 })) ?? 0;
      entries += await client.hLen(key);
      indexes += 1;
    }
  } while (cursor !== '0');
  return { indexBytesPerSession: entries ? memory / entries : 0, sessionsPerUser: indexes ? entries / indexes : 0 };
}
