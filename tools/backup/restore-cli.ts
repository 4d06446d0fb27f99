import { resolve } from 'node:path';
import { parseCommandLine } from '../lib/command-line.ts';
import { BackupError } from './age.ts';
import { localStackEndpoints } from './endpoints.ts';
import { restoreSnapshot } from './restore-snapshot.ts';

const usage = `
npm run restore: restores a snapshot of npm run backup into the running local stack (npm start), keeping that
stack's own secrets. Verifies everything first (the manifest's signature and SHA-256, decryption, redis-check-rdb, pg_restore
--list) and changes nothing if a check fails. Refuses a stack with data (a key in the session Redis, an edited
product) unless --force, which replaces it.

  npm run restore -- <snapshot dir>
  npm run restore -- --run-dir DIR --redis-port N <snapshot dir>
  npm run restore -- --identity FILE <snapshot dir>    the private key (default <run-dir>/secrets/backup_age_key)
  npm run restore -- --signer FILE <snapshot dir>      the public key the manifest must be signed with
                                                       (default <run-dir>/secrets/backup_signing_key.pub)

Options: --run-dir DIR (.run/), --redis-port N (6380), --redis sentinel|single|cluster, --cache redis|memcached (as given to
npm start; the cache emptied after the restore), --identity FILE, --signer FILE, --force, --help`;

const { values, integer, choice, positionals, refuse } = parseCommandLine(
  { command: 'npm run restore', usage, positionals: true },
  {
    'run-dir': { type: 'string' },
    'redis-port': { type: 'string', default: '6380' },
    redis: { type: 'string', default: 'sentinel' },
    cache: { type: 'string', default: 'redis' },
    identity: { type: 'string' },
    signer: { type: 'string' },
    force: { type: 'boolean', default: false },
  },
);
if (positionals.length !== 1) refuse(positionals.length === 0 ? 'which snapshot? name its directory' : 'one snapshot at a time');

try {
  const endpoints = localStackEndpoints({
    runDir: values['run-dir'],
    redisPort: integer('redis-port'),
    mode: choice('redis', ['sentinel', 'single', 'cluster'] as const),
    cache: choice('cache', ['redis', 'memcached'] as const),
  });
  const { keys, seconds } = await restoreSnapshot(endpoints, resolve(positionals[0]!), {
    force: values.force,
    ...(values.identity ? { identityFile: resolve(values.identity) } : {}),
    ...(values.signer ? { signerFile: resolve(values.signer) } : {}),
    log: (line) => console.log(`[restore] ${line}`),
  });
  console.log(`[restore] done in ${seconds.toFixed(2)} s: ${keys} Redis keys and the catalogue`);
} catch (err) {
  // A BackupError says what to do; anything else (a refused connection, a server's error) is shown as its message.
  console.error(`[restore] ${err instanceof BackupError ? err.message : `failed: ${(err as Error).message}`}`);
  process.exit(1);
}
