import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createDocBlock, runTime } from '../lib/doc-block.ts';
import { repoRoot } from '../lib/paths.ts';
import { checkTable, failedChecks, type Check } from './checks.ts';

const OPERATIONS_DOC = join(repoRoot, 'docs/operations.md');

/** The operations document's tables of what happens when a part fails, each from a whole run, never typed in. */
export const chaosDocs = {
  chaos: createDocBlock(OPERATIONS_DOC, 'chaos', 'npm run chaos -- --write-docs'),
  partitions: createDocBlock(OPERATIONS_DOC, 'chaos-partitions', 'npm run chaos -- --partitions --write-docs'),
};

/** Puts a run's table into its block, saying when and under what load it ran; a run that missed a bound is not. */
export function publishRun(block: keyof typeof chaosDocs, command: string, checks: Check[]): string {
  if (failedChecks(checks).length > 0) return 'a bound was not met: docs/operations.md left as it was';
  const machine = `${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)} at the end`;
  chaosDocs[block].write(`From \`${command}\`, ${runTime()} (${machine}):\n\n${checkTable(checks)}`);
  return `docs/operations.md: its ${block} block now shows this run`;
}
