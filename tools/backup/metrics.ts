import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { snapshotFiles, type Manifest } from './manifest.ts';

export const METRICS_FILE = 'backup.prom';

/** The scheduled backup's metrics: alerts.yml may name these beside the app's (check:infra). */
export const BACKUP_METRICS = ['backup_last_success_timestamp_seconds', 'backup_last_size_bytes', 'backup_last_duration_seconds'];

/** The last good backup as Prometheus text exposition (the compose service serves it; node_exporter's textfile collector reads it as is). */
export function backupMetricsText(manifest: Manifest) {
  return [
    '# HELP backup_last_success_timestamp_seconds When the last complete, encrypted snapshot was taken.',
    '# TYPE backup_last_success_timestamp_seconds gauge',
    `backup_last_success_timestamp_seconds ${Date.parse(manifest.createdAt) / 1000}`,
    '# HELP backup_last_size_bytes Size of the last snapshot (encrypted files).',
    '# TYPE backup_last_size_bytes gauge',
    `backup_last_size_bytes ${snapshotFiles(manifest).reduce((sum, file) => sum + file.bytes, 0)}`,
    '# HELP backup_last_duration_seconds How long the last snapshot took.',
    '# TYPE backup_last_duration_seconds gauge',
    `backup_last_duration_seconds ${manifest.seconds}`,
    '',
  ].join('\n');
}

/** Written only after a good backup, atomically (a scrape never reads half a file). */
export function writeBackupMetrics(backupsDir: string, manifest: Manifest) {
  const path = join(backupsDir, METRICS_FILE);
  writeFileSync(`${path}.tmp`, backupMetricsText(manifest));
  renameSync(`${path}.tmp`, path);
}
