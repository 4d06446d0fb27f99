import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeReadmeFigures } from './readme.ts';

describe('writeReadmeFigures', () => {
  const withReadme = (t: { after: (fn: () => void) => void }, text: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-readme-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'README.md');
    writeFileSync(file, text);
    return file;
  };
  const block = (inside: string) =>
    `before\n<!-- bench:begin (written by npm run bench -- --write-readme) -->${inside}<!-- bench:end -->\nafter\n`;

  it('replaces what is between the markers, twice in a row, and nothing else', (t) => {
    const file = withReadme(t, block('\nold figures\n'));
    writeReadmeFigures('| first |', 'npm run bench -- --rounds 5', file);
    writeReadmeFigures('| second |', 'npm run bench -- --rounds 5', file);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^before\n/);
    assert.match(text, /\nafter\n$/);
    assert.match(text, /From `npm run bench -- --rounds 5`, \d{4}-\d\d-\d\d \d\d:\d\d UTC:\n\n\| second \|/);
    assert.doesNotMatch(text, /old figures|first/);
  });

  it('refuses a README without the markers instead of appending somewhere', (t) => {
    const file = withReadme(t, 'no markers here\n');
    assert.throws(() => writeReadmeFigures('| x |', 'npm run bench', file), /no bench block/);
    assert.equal(readFileSync(file, 'utf8'), 'no markers here\n');
  });
});
