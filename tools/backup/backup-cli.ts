import { parseCommandLine } from '../lib/command-line.ts';
import { BackupError } from './age.ts';
import { ensureKeyPair } from './age.ts';
import { localStackEndpoints } from './endpoints.ts';
import { ensureSigningKey } from './signature.ts';
import { takeBackup } from './take-backup.ts';

const usage = `
npm run backup: an encrypted snapshot of the running local stack (npm start): the session Redis from a replica and
the catalogue (pg_dump), each encrypted with age, with a manifest. Prints the snapshot's path as its last line.

  npm run backup                                the stack of .run/ (ports from 6380, as npm start)
  npm run backup -- --run-dir DIR --redis-port N   a stack started with those options
  npm run backup -- --manual                    a manual snapshot: never removed by the retention
  npm run backup -- --keep N                    keep the last N scheduled snapshots (default 7)

The key pair is <run-dir>/secrets/backup_age_key (private, 0600, made by age-keygen when missing) and
backup_age_recipient (public). In production keep only the public key where backups are taken. The manifest is
signed with backup_signing_key (Ed25519, made when missing); a restore checks it with backup_signing_key.pub.
Snapshots go to <run-dir>/backups/ (--out DIR).

Options: --run-dir DIR (.run/), --redis-port N (6380), --redis sentinel|single|cluster, --out DIR, --keep N, --manual, --help`;

const { values, integer, choice } = parseCommandLine(
  { command: 'npm run backup', usage },
  {
    'run-dir': { type: 'string' },
    'redis-port': { type: 'string', default: '6380' },
    redis: { type: 'string', default: 'sentinel' },
    out: { type: 'string' },
    keep: { type: 'string', default: '7' },
    manual: { type: 'boolean', default: false },
  },
);

try {
  const endpoints = localStackEndpoints({
    runDir: values['run-dir'],
    redisPort: integer('redis-port'),
    mode: choice('redis', ['sentinel', 'single', 'cluster'] as const),
    backupsDir: values.out,
  });
  ensureKeyPair(endpoints.secretsDir);
  ensureSigningKey(endpoints.secretsDir);
  const { path, manifest, removed } = await takeBackup(endpoints, { keep: integer('keep'), manual: values.manual });
  console.log(
    `[backup] redis ${manifest.redis.version} from ${manifest.redis.source}: ${manifest.redis.keys} keys, ${manifest.redis.bytes} bytes encrypted; ` +
      (manifest.postgres ? `postgres ${manifest.postgres.version}: ${manifest.postgres.bytes} bytes encrypted; ` : '') +
      `${manifest.seconds} s`,
  );
  for (const name of removed) console.log(`[backup] removed ${name} (retention: the last ${values.keep} and every manual one)`);
  console.log(path);
} catch (err) {
  // A BackupError says what to do; anything else (a refused connection, a server's error) is shown as its message.
  console.error(`[backup] ${err instanceof BackupError ? err.message : `failed: ${(err as Error).message}`}`);
  process.exit(1);
}
