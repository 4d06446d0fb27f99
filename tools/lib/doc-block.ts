import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { repoRoot } from './paths.ts';

/**
 * A block of a document that a tool writes, so measured figures are never typed in: everything between
 * `<!-- <name>:begin (written by <command>) -->` and `<!-- <name>:end -->`. Reading or writing a document without
 * the markers throws instead of writing somewhere else.
 */
export function createDocBlock(doc: string, name: string, writtenBy: string) {
  const begin = `<!-- ${name}:begin (written by ${writtenBy}) -->`;
  const end = `<!-- ${name}:end -->`;
  const locate = () => {
    const text = readFileSync(doc, 'utf8');
    const from = text.indexOf(begin);
    const to = text.indexOf(end);
    if (from < 0 || to < from) throw new Error(`${relative(repoRoot, doc)} has no ${name} block (${begin} … ${end})`);
    return { text, from, to };
  };
  return {
    begin,
    end,
    /** What the block holds now. */
    read() {
      const { text, from, to } = locate();
      return text.slice(from + begin.length, to);
    },
    /** Replaces what the block holds with `content`, a blank line either side. */
    write(content: string) {
      const { text, from, to } = locate();
      writeFileSync(doc, `${text.slice(0, from)}${begin}\n\n${content}\n\n${text.slice(to)}`);
    },
  };
}

/** When a tool's run was, as its block says it: `2026-12-07 12:48 UTC`. */
export const runTime = (now = new Date()) => `${now.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
