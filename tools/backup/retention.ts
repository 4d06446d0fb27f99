import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST } from './manifest.ts';

/**
 * Keeps the newest `keep` scheduled snapshots and every manual one (`…-manual`, never removed here); removes the
 * older scheduled ones and any `.partial-*` left by an interrupted backup. Snapshot names sort by time (ISO 8601).
 * Returns the names removed.
 */
export function applyRetention(backupsDir: string, keep: number): string[] {
  const names = readdirSync(backupsDir).sort();
  const scheduled = names.filter(
    (name) => !name.startsWith('.') && !name.endsWith('-manual') && existsSync(join(backupsDir, name, MANIFEST)),
  );
  const removed = [
    ...names.filter((name) => name.startsWith('.partial-')),
    ...scheduled.slice(0, Math.max(0, scheduled.length - keep)),
  ];
  for (const name of removed) rmSync(join(backupsDir, name), { recursive: true, force: true });
  return removed;
}
