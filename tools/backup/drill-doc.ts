import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createDocBlock, runTime } from '../lib/doc-block.ts';
import { repoRoot } from '../lib/paths.ts';

/** Where the restore drill publishes its figures: docs/operations.md, in its backup-drill block, one row per drill size. */
export const OPERATIONS_DOC = join(repoRoot, 'docs/operations.md');
const WRITTEN_BY = 'the restore drill: BACKUP_DRILL_WRITE_DOCS=1 npm run backup:drill';
const HEADER = [
  '| Sessions | Backup (`npm run backup`) | Restore (`npm run restore`) | Snapshot: Redis / catalogue | Redis per 1,000 sessions | Measured |',
  '|--:|--:|--:|--:|--:|:--|',
];

export type DrillFigures = {
  sessions: number;
  backupSeconds: number;
  restoreSeconds: number;
  redisBytes: number;
  /** Absent for a deployment without the catalogue. */
  postgresBytes?: number;
};

const size = (bytes: number) => (bytes < 1_000_000 ? `${Math.round(bytes / 1000)} KB` : `${(bytes / 1_000_000).toFixed(2)} MB`);

/** One table row: the drill's wall-clock times, the encrypted sizes, and when and under what load it ran. */
export function drillRow(figures: DrillFigures, now = new Date(), machine = { cores: cpus().length, load: loadavg()[0]! }) {
  const cells = [
    figures.sessions.toLocaleString('en-US'),
    `${figures.backupSeconds.toFixed(2)} s`,
    `${figures.restoreSeconds.toFixed(2)} s`,
    `${size(figures.redisBytes)} / ${figures.postgresBytes === undefined ? '-' : size(figures.postgresBytes)}`,
    size((figures.redisBytes / figures.sessions) * 1000),
    `${runTime(now)}, ${machine.cores} cores, load ${machine.load.toFixed(1)}`,
  ];
  return `| ${cells.join(' | ')} |`;
}

const sessionsOf = (row: string) => Number(row.split('|')[1]!.trim().replace(/,/g, ''));

/**
 * Puts this drill's row into the operations document's block: the row of the same number of sessions is replaced,
 * the others (other drill sizes, from other runs) are kept, smallest first.
 */
export function writeDrillFigures(figures: DrillFigures, doc = OPERATIONS_DOC, now = new Date()): void {
  const block = createDocBlock(doc, 'backup-drill', WRITTEN_BY);
  const kept = block
    .read()
    .split('\n')
    .filter((line) => /^\| [\d,]+ \|/.test(line) && sessionsOf(line) !== figures.sessions);
  const rows = [...kept, drillRow(figures, now)].sort((a, b) => sessionsOf(a) - sessionsOf(b));
  block.write([...HEADER, ...rows].join('\n'));
}
