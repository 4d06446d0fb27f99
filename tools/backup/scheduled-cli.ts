// The scheduled backup of a deployment, configured by its environment (endpointsFromEnv):
//   node tools/backup/scheduled-cli.ts once    one snapshot, then exit (the Kubernetes CronJob)
//   node tools/backup/scheduled-cli.ts loop    a snapshot every BACKUP_INTERVAL_S (default 86400), and the last
//                                              good one's time as a metric on BACKUP_METRICS_PORT (the compose service)
// BACKUP_KEEP (default 7) scheduled snapshots are kept, and every manual one.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackupError } from './age.ts';
import { endpointsFromEnv, type Endpoints } from './endpoints.ts';
import { MANIFEST, type Manifest } from './manifest.ts';
import { backupMetricsText } from './metrics.ts';
import { listSnapshots, takeBackup } from './take-backup.ts';

const mode = process.argv[2];
if (mode !== 'once' && mode !== 'loop') {
  console.error('usage: scheduled-cli.ts once|loop');
  process.exit(2);
}
let endpoints: Endpoints;
try {
  endpoints = endpointsFromEnv();
} catch (err) {
  console.error(`[backup] ${(err as Error).message}`);
  process.exit(2);
}
const keep = Number(process.env.BACKUP_KEEP ?? 7);
const intervalMs = Number(process.env.BACKUP_INTERVAL_S ?? 86_400) * 1000;

/** The newest snapshot's manifest on the volume: a restarted service reports the last good backup, not none. */
function newest(): Manifest | undefined {
  const name = listSnapshots(endpoints.backupsDir).at(-1);
  return name ? (JSON.parse(readFileSync(join(endpoints.backupsDir, name, MANIFEST), 'utf8')) as Manifest) : undefined;
}

async function backupOnce() {
  try {
    const { path, manifest } = await takeBackup(endpoints, { keep });
    console.log(`[backup] ${path}: ${manifest.redis.keys} keys, ${manifest.seconds} s`);
    return true;
  } catch (err) {
    console.error(`[backup] failed: ${err instanceof BackupError ? err.message : (err as Error).stack}`);
    return false;
  }
}

if (mode === 'once') process.exit((await backupOnce()) ? 0 : 1);

// Never backed up: 0, so BackupTooOld fires rather than staying silent.
const metrics = () => {
  const last = newest();
  return last
    ? backupMetricsText(last)
    : '# TYPE backup_last_success_timestamp_seconds gauge\nbackup_last_success_timestamp_seconds 0\n';
};
const server = createServer((req, res) => {
  if (req.url !== '/metrics') return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics());
});
server.listen(Number(process.env.BACKUP_METRICS_PORT ?? 9465), process.env.HOST ?? '0.0.0.0');
const stop = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => {
    stop.abort();
    server.close();
  });
while (!stop.signal.aborted) {
  const last = newest();
  const due = last ? Date.parse(last.createdAt) + intervalMs - Date.now() : 0;
  // A schedule, not a readiness wait: due now, or a timer until it is (a restart takes no extra snapshot).
  if (due > 0) await sleep(due, undefined, { signal: stop.signal }).catch(() => undefined);
  else if (!(await backupOnce()))
    await sleep(Math.min(intervalMs, 300_000), undefined, { signal: stop.signal }).catch(() => undefined);
}
