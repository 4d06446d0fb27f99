import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { repoRoot } from '../lib/paths.ts';
import { tempFile } from '../lib/temp-file.ts';
import { PERFORMANCE_DOC, writePerformanceFigures } from './performance-doc.ts';

describe('writePerformanceFigures', () => {
  const withDoc = (t: TestContext, text: string) => tempFile(t, 'performance.md', text);
  const block = (inside: string) =>
    `before\n<!-- bench:begin (written by npm run bench -- --write-docs) -->${inside}<!-- bench:end -->\nafter\n`;

  it('replaces what is between the markers, twice in a row, and nothing else', (t) => {
    const file = withDoc(t, block('\nold figures\n'));
    writePerformanceFigures('| first |', 'npm run bench -- --rounds 5', file);
    writePerformanceFigures('| second |', 'npm run bench -- --rounds 5', file);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^before\n/);
    assert.match(text, /\nafter\n$/);
    assert.match(text, /From `npm run bench -- --rounds 5`, \d{4}-\d\d-\d\d \d\d:\d\d UTC:\n\n\| second \|/);
    assert.doesNotMatch(text, /old figures|first/);
  });

  it('refuses a document without the markers instead of appending somewhere', (t) => {
    const file = withDoc(t, 'no markers here\n');
    assert.throws(() => writePerformanceFigures('| x |', 'npm run bench', file), /no bench block/);
    assert.equal(readFileSync(file, 'utf8'), 'no markers here\n');
  });

  it('targets docs/performance.md, which holds exactly one bench block (the README holds none)', () => {
    const count = (file: string, marker: string) => readFileSync(file, 'utf8').split(marker).length - 1;
    const begin = '<!-- bench:begin (written by npm run bench -- --write-docs) -->';
    assert.equal(count(PERFORMANCE_DOC, begin), 1);
    assert.equal(count(PERFORMANCE_DOC, '<!-- bench:end -->'), 1);
    assert.equal(count(join(repoRoot, 'README.md'), '<!-- bench:'), 0);
  });
});
