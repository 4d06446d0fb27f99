import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { tempFile } from '../lib/temp-file.ts';
import { drillRow, OPERATIONS_DOC, writeDrillFigures } from './drill-doc.ts';

const BEGIN = '<!-- backup-drill:begin (written by the restore drill: BACKUP_DRILL_WRITE_DOCS=1 npm run backup:drill) -->';
const END = '<!-- backup-drill:end -->';
const figures = (sessions: number) => ({
  sessions,
  backupSeconds: 0.5,
  restoreSeconds: 1.25,
  redisBytes: sessions * 140,
  postgresBytes: 522_000,
});

describe('writeDrillFigures', () => {
  const withDoc = (t: TestContext, text: string) => tempFile(t, 'operations.md', text);
  const rowsOf = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => /^\| [\d,]+ \|/.test(line));

  it('replaces the row of the same size, keeps the other sizes smallest first, and touches nothing outside the markers', (t) => {
    const file = withDoc(t, `before\n${BEGIN}\nhand-written figures\n${END}\nafter\n`);
    writeDrillFigures(figures(10_000), file);
    writeDrillFigures(figures(500), file);
    writeDrillFigures({ ...figures(10_000), backupSeconds: 2 }, file);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^before\n/);
    assert.match(text, /\nafter\n$/);
    assert.doesNotMatch(text, /hand-written/);
    const rows = rowsOf(file);
    assert.equal(rows.length, 2);
    assert.match(
      rows[0]!,
      /^\| 500 \| 0\.50 s \| 1\.25 s \| 70 KB \/ 522 KB \| 140 KB \| \d{4}-\d\d-\d\d \d\d:\d\d UTC, \d+ cores, load [\d.]+ \|$/,
    );
    assert.match(rows[1]!, /^\| 10,000 \| 2\.00 s \| 1\.25 s \| 1\.40 MB \/ 522 KB \| 140 KB \|/);
  });

  it('writes "-" for a snapshot without the catalogue', () => {
    const row = drillRow({ ...figures(500), postgresBytes: undefined }, new Date('2026-12-07T12:00:00Z'), {
      cores: 2,
      load: 1.5,
    });
    assert.equal(row, '| 500 | 0.50 s | 1.25 s | 70 KB / - | 140 KB | 2026-12-07 12:00 UTC, 2 cores, load 1.5 |');
  });

  it('refuses a document without the markers instead of appending somewhere', (t) => {
    const file = withDoc(t, 'no markers here\n');
    assert.throws(() => writeDrillFigures(figures(500), file), /no backup-drill block/);
    assert.equal(readFileSync(file, 'utf8'), 'no markers here\n');
  });

  it('targets docs/operations.md, which holds exactly one drill block', () => {
    const text = readFileSync(OPERATIONS_DOC, 'utf8');
    assert.equal(text.split(BEGIN).length - 1, 1);
    assert.equal(text.split(END).length - 1, 1);
  });
});
