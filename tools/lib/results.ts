import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.ts';

/** Writes `results/<name>-<timestamp>.json` (git-ignored) and returns its path. */
export function writeResults(name: string, data: unknown): string {
  const dir = join(repoRoot, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** Writes `results/<name>-latest.md` (git-ignored), the tables a run printed, and returns its path. */
export function writeReport(name: string, markdown: string): string {
  const dir = join(repoRoot, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-latest.md`);
  writeFileSync(file, `${markdown}\n`);
  return file;
}
