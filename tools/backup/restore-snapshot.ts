import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { flushMemcached } from '../lib/memcached-server.ts';
import { connectAdmin, redisUrl } from '../lib/redis.ts';
import { run } from '../lib/spawn.ts';
import { assertAgeInstalled, BackupError, decryptFile } from './age.ts';
import { readSecret, type Endpoints } from './endpoints.ts';
import { readManifest, verifyFiles, type Manifest } from './manifest.ts';
import { checkDump, checkRdb } from './take-backup.ts';
import { loadRdb } from './rdb-source.ts';
import { connectRestoreTarget } from './redis-target.ts';
import { SIGNING_PUBLIC_KEY, verifyManifestSignature } from './signature.ts';

const postgresClient = (postgres: NonNullable<Endpoints['postgres']>) =>
  new pg.Client({
    host: postgres.host,
    port: postgres.port,
    user: postgres.user,
    password: readSecret(postgres.passwordFile),
    database: postgres.database,
    connectionTimeoutMillis: 5000,
  });

/**
 * What the target already holds: any key in the session Redis, any product edited since the seed (a stack's
 * catalogue is never empty: its migrations seed it, so "empty" means "as seeded": every product at version 1).
 */
async function existingData(target: { keys: () => Promise<number> }, postgres: Endpoints['postgres']) {
  const keys = await target.keys();
  if (!postgres) return { keys, editedProducts: 0 };
  const client = postgresClient(postgres);
  await client.connect();
  try {
    const edited = await client.query<{ count: string }>(
      "SELECT count(*) FROM information_schema.tables WHERE table_name = 'products'",
    );
    const products =
      edited.rows[0]?.count === '0'
        ? 0
        : Number((await client.query<{ count: string }>('SELECT count(*) FROM products WHERE version > 1')).rows[0]?.count);
    return { keys, editedProducts: products };
  } finally {
    await client.end();
  }
}

async function restoreCatalog(postgres: NonNullable<Endpoints['postgres']>, dump: string) {
  // One transaction: a failure leaves the catalogue as it was. --clean drops what the dump recreates.
  const args = ['--clean', '--if-exists', '--single-transaction', '--exit-on-error', '--no-password'];
  const { code, output } = await run(
    'pg_restore',
    [...args, '-h', postgres.host, '-p', String(postgres.port), '-U', postgres.user, '-d', postgres.database, dump],
    { env: { ...process.env, PGPASSWORD: readSecret(postgres.passwordFile), PGCONNECT_TIMEOUT: '5' }, timeoutMs: 600_000 },
  );
  if (code !== 0) throw new BackupError(`pg_restore into ${postgres.database} failed (rolled back, nothing changed): ${output}`);
}

/**
 * Everything a restore checks before it writes anything, into the private directory `work`: the manifest's signature
 * (by the key whose public half is `signerFile`: nothing in a manifest is trusted before), its sizes and
 * SHA-256, decryption with the private key (age authenticates every chunk: a tampered or truncated file does not
 * decrypt), redis-check-rdb on the RDB and pg_restore --list on the dump. Returns the plain files' paths in `work`.
 */
export async function verifySnapshot(snapshotDir: string, work: string, identityFile: string, signerFile: string) {
  assertAgeInstalled();
  const manifest: Manifest = readManifest(snapshotDir);
  verifyManifestSignature(snapshotDir, signerFile);
  await verifyFiles(snapshotDir, manifest);
  const rdb = join(work, 'redis.rdb');
  const dump = join(work, 'catalog.dump');
  await decryptFile(join(snapshotDir, manifest.redis.file), rdb, identityFile);
  if (manifest.postgres) await decryptFile(join(snapshotDir, manifest.postgres.file), dump, identityFile);
  await decryptFile(join(snapshotDir, manifest.config.file), join(work, 'users.acl'), identityFile);
  const redis = await checkRdb(rdb);
  const postgres = manifest.postgres ? await checkDump(dump) : undefined;
  return { manifest, rdb, dump, redis, postgres };
}

/**
 * Restores a snapshot into a running stack, keeping that stack's secrets and ACL. Everything is verified before
 * anything is written (verifySnapshot). A target with data is refused unless `force` (which then replaces it).
 *
 * Redis is restored into the live primary, key by key (DUMP from a private redis-server that loaded the RDB, RESTORE
 * … REPLACE with the key's remaining TTL, as admin): replication and the AOF carry it to the replicas and to disk, the
 * Sentinels see no outage, and keys that expired since the snapshot stay expired. Placing the RDB under a stopped
 * node would not work here: with AOF on, Redis loads the AOF and ignores dump.rdb. The catalogue is restored by
 * pg_restore as its owner in one transaction, then the catalogue's cache (the cache Redis, or every memcached node) is emptied so no product from before is served.
 */
export async function restoreSnapshot(
  endpoints: Endpoints,
  snapshotDir: string,
  {
    identityFile = join(endpoints.secretsDir, 'backup_age_key'),
    signerFile = join(endpoints.secretsDir, SIGNING_PUBLIC_KEY),
    force = false,
    log = (_: string) => {},
  } = {},
) {
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'restore-'));
  try {
    const { manifest, rdb, dump } = await verifySnapshot(snapshotDir, work, identityFile, signerFile);
    log(`verified ${snapshotDir}: signature, hashes, decryption, redis-check-rdb, pg_restore --list`);

    const { redis, postgres } = endpoints;
    const target = await connectRestoreTarget(redis);
    try {
      const existing = await existingData(target, postgres);
      if ((existing.keys > 0 || existing.editedProducts > 0) && !force)
        throw new BackupError(
          `the target has data (${existing.keys} keys in the session Redis, ${existing.editedProducts} edited products): ` +
            'nothing was restored; --force replaces it',
        );
      if (manifest.postgres && !postgres) throw new BackupError('the snapshot has a catalogue, the target none');
      if (manifest.postgres && postgres) {
        await restoreCatalog(postgres, dump);
        log(`catalogue restored (${postgres.database})`);
      }
      if (force) await target.flushAll();
      const source = await loadRdb(rdb, work);
      let keys = 0;
      try {
        keys = await source.copyInto(target.restoreInto);
      } finally {
        await source.stop();
      }
      await target.waitForReplicas();
      log(`session redis restored: ${keys} keys${redis.cluster ? ' (into every shard of the cluster)' : ''}`);
      if (redis.cache) {
        const adminPassword = readSecret(redis.adminPasswordFile);
        await emptyCache(redis.cache, { adminPassword, tls: Boolean(redis.caFile), caFile: redis.caFile });
        log(`catalogue cache emptied (${redis.cache.engine})`);
      }
      return { manifest, keys, seconds: (performance.now() - started) / 1000 };
    } finally {
      target.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Empties the catalogue's cache, so no product from before the restore is served: the cache Redis, or every memcached node. */
async function emptyCache(
  cache: NonNullable<Endpoints['redis']['cache']>,
  { adminPassword, tls, caFile }: { adminPassword: string; tls: boolean; caFile?: string },
) {
  if (cache.engine === 'redis') {
    const admin = await connectAdmin(redisUrl('admin', adminPassword, cache.node.port, { host: cache.node.host, tls }));
    try {
      await admin.flushAll();
    } finally {
      admin.destroy();
    }
    return;
  }
  const credentials = {
    ca: caFile ? readFileSync(caFile, 'utf8') : '',
    username: 'cache',
    password: readSecret(cache.passwordFile),
  };
  await Promise.all(cache.nodes.map((node) => flushMemcached(node, credentials)));
}
