import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST } from './manifest.ts';

/** A backup takes seconds to minutes: a work directory untouched for an hour belongs to no backup running now. */
const ABANDONED_AFTER_MS = 3_600_000;

/**
 * Keeps the newest `keep` scheduled snapshots and every manual one (`…-manual`, never removed here); removes the
 * older scheduled ones and any `.partial-*` an interrupted backup left (over an hour old: one running now owns its
 * own). Snapshot names sort by time (ISO 8601). Returns the names removed.
 */
export function applyRetention(backupsDir: string, keep: number): string[] {
  const names = readdirSync(backupsDir).sort();
  const scheduled = names.filter(
    (name) => !name.startsWith('.') && !name.endsWith('-manual') && existsSync(join(backupsDir, name, MANIFEST)),
  );
  const abandoned = names.filter(
    (name) => name.startsWith('.partial-') && Date.now() - statSync(join(backupsDir, name)).mtimeMs > ABANDONED_AFTER_MS,
  );
  const removed = [...abandoned, ...scheduled.slice(0, Math.max(0, scheduled.length - keep))];
  for (const name of removed) rmSync(join(backupsDir, name), { recursive: true, force: true });
  return removed;
}
