import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../lib/paths.ts';

const BEGIN = '<!-- bench:begin (written by npm run bench -- --write-readme) -->';
const END = '<!-- bench:end -->';

/** Replaces the README's bench block with this run's tables, saying which run they come from. */
export function writeReadmeFigures(report: string, command: string, readme = join(repoRoot, 'README.md')): void {
  const text = readFileSync(readme, 'utf8');
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`README.md has no bench block (${BEGIN} … ${END})`);
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const block = `${BEGIN}\n\nFrom \`${command}\`, ${when} UTC:\n\n${report}\n\n`;
  writeFileSync(readme, text.slice(0, begin) + block + text.slice(end));
}
