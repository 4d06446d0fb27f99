import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it, type TestContext } from 'node:test';
import { MANIFEST } from './manifest.ts';
import { applyRetention } from './retention.ts';

/** A backups directory holding these names, each a snapshot (with a manifest) unless it starts with a dot. */
function backupsDir(t: TestContext, names: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'retention-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of names) {
    mkdirSync(join(dir, name));
    if (!name.startsWith('.')) writeFileSync(join(dir, name, MANIFEST), '{}');
  }
  return dir;
}

it('retention › keeps the newest N scheduled snapshots and every manual one; a fresh .partial is left to its backup, an hour-old one removed', (t) => {
  const dir = backupsDir(t, [
    '2026-12-01T03-17-00.000Z',
    '2026-12-02T03-17-00.000Z-manual',
    '2026-12-03T03-17-00.000Z',
    '2026-12-04T03-17-00.000Z',
    '2026-12-05T03-17-00.000Z',
    '.partial-running',
    '.partial-abandoned',
  ]);
  const hourAgo = new Date(Date.now() - 3_700_000);
  utimesSync(join(dir, '.partial-abandoned'), hourAgo, hourAgo);

  const removed = applyRetention(dir, 2);

  assert.deepEqual(removed.sort(), ['.partial-abandoned', '2026-12-01T03-17-00.000Z', '2026-12-03T03-17-00.000Z']);
  assert.deepEqual(readdirSync(dir).sort(), [
    '.partial-running',
    '2026-12-02T03-17-00.000Z-manual',
    '2026-12-04T03-17-00.000Z',
    '2026-12-05T03-17-00.000Z',
  ]);
});
