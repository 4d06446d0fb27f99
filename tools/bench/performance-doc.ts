import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../lib/paths.ts';

/** Where the bench's figures are published: docs/performance.md, between these markers. */
export const PERFORMANCE_DOC = join(repoRoot, 'docs/performance.md');
const BEGIN = '<!-- bench:begin (written by npm run bench -- --write-docs) -->';
const END = '<!-- bench:end -->';

/** Replaces the performance document's bench block with this run's tables, saying which run they come from. */
export function writePerformanceFigures(report: string, command: string, doc = PERFORMANCE_DOC): void {
  const text = readFileSync(doc, 'utf8');
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${relative(repoRoot, doc)} has no bench block (${BEGIN} … ${END})`);
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const block = `${BEGIN}\n\nFrom \`${command}\`, ${when} UTC:\n\n${report}\n\n`;
  writeFileSync(doc, text.slice(0, begin) + block + text.slice(end));
}
