import { join } from 'node:path';
import { createDocBlock, runTime } from '../lib/doc-block.ts';
import { repoRoot } from '../lib/paths.ts';

/** Where the bench's figures are published: docs/performance.md, in its bench block. */
export const PERFORMANCE_DOC = join(repoRoot, 'docs/performance.md');

/** Replaces the performance document's bench block with this run's tables, saying which run they come from. */
export function writePerformanceFigures(report: string, command: string, doc = PERFORMANCE_DOC): void {
  createDocBlock(doc, 'bench', 'npm run bench -- --write-docs').write(`From \`${command}\`, ${runTime()}:\n\n${report}`);
}
