import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { redisUrl, withRedis } from '../lib/redis.ts';
import { loadRdb } from './rdb-source.ts';
import { primaryOf } from './primary.ts';
import { run } from '../lib/spawn.ts';
import { assertAgeInstalled, BackupError, encryptFile, parseRecipients, readRecipients } from './age.ts';
import { hostPort, readSecret, type Endpoints, type HostPort } from './endpoints.ts';
import { describeFile, MANIFEST, type Manifest } from './manifest.ts';
import { applyRetention } from './retention.ts';
import { writeBackupMetrics } from './metrics.ts';
import { loadSigningKey, signManifest } from './signature.ts';

const LONG_MS = 600_000;

/** The Redis version and key count redis-check-rdb reads from an RDB; a BackupError when it finds it damaged. */
export async function checkRdb(path: string) {
  const { code, output } = await run('redis-check-rdb', [path], { stdout: true, timeoutMs: LONG_MS });
  if (code !== 0 || !output.includes('RDB looks OK'))
    throw new BackupError(`redis-check-rdb refuses ${path}:\n${output.split('\n').slice(-6).join('\n')}`);
  return {
    version: /redis-ver = '([^']+)'/.exec(output)?.[1] ?? 'unknown',
    keys: Number(/\[info\] (\d+) keys read/.exec(output)?.[1] ?? 0),
  };
}

/** The PostgreSQL version a custom-format dump was taken from; a BackupError when pg_restore cannot read it. */
export async function checkDump(path: string) {
  const { code, output } = await run('pg_restore', ['--list', path], { stdout: true, timeoutMs: LONG_MS });
  if (code !== 0) throw new BackupError(`pg_restore cannot read ${path}: ${output}`);
  return { version: /Dumped from database version: (\S+)/.exec(output)?.[1] ?? 'unknown' };
}

/**
 * The data nodes to take the snapshot from: the replicas, as the Sentinels (asked as `sentinel-app`) tell which node
 * is primary. `redis-cli --rdb` makes the node fork to write the RDB; on a replica that stalls no user. Without
 * Sentinels (one node) there is nothing else to ask.
 */
async function snapshotSources(redis: Endpoints['redis']): Promise<{ nodes: HostPort[]; note?: string }> {
  if (redis.sentinels.length === 0)
    return { nodes: redis.nodes, note: 'taken from the only node (no replica): the fork ran on the primary' };
  const primary = hostPort(await primaryOf(redis));
  return { nodes: redis.nodes.filter((node) => hostPort(node) !== primary) };
}

/** `redis-cli --rdb` as `replica` over TLS from the first of `nodes` that serves one (a replica off its primary refuses). */
async function rdbFromFirst(redis: Endpoints['redis'], nodes: HostPort[], output: string, what = 'no replica') {
  const failures: string[] = [];
  for (const node of nodes) {
    const tls = redis.caFile ? ['--tls', '--cacert', redis.caFile] : [];
    const args = [...tls, '-h', node.host, '-p', String(node.port), '--user', 'replica'];
    const { code, output: message } = await run('redis-cli', [...args, '--no-auth-warning', '--rdb', output], {
      env: { ...process.env, REDISCLI_AUTH: readSecret(redis.replicaPasswordFile) },
      timeoutMs: LONG_MS,
    });
    if (code === 0) return hostPort(node);
    failures.push(`${hostPort(node)}: ${message.split('\n').at(-1)}`);
  }
  throw new BackupError(`${what} gave a snapshot:\n  ${failures.join('\n  ') || '(none to ask)'}`);
}

async function fetchRdb(redis: Endpoints['redis'], output: string) {
  if (redis.cluster) return fetchClusterRdb(redis, output);
  const { nodes, note } = await snapshotSources(redis);
  return { source: await rdbFromFirst(redis, nodes, output), notes: note ? [note] : [] };
}

/**
 * A cluster's shards as CLUSTER SLOTS describes them (asked as `replica`, which may ask that and nothing else of
 * the kind): each primary with its replicas and the slot ranges it serves.
 */
async function clusterShards(redis: Endpoints['redis']) {
  type Node = [string, number, string];
  type Range = [number, number, Node, ...Node[]];
  const password = readSecret(redis.replicaPasswordFile);
  const tls = Boolean(redis.caFile);
  for (const node of redis.nodes) {
    const ranges = await withRedis(redisUrl('replica', password, node.port, { host: node.host, tls }), (client) =>
      client.sendCommand<Range[]>(['CLUSTER', 'SLOTS']),
    ).catch(() => undefined);
    if (!ranges) continue;
    const shards = new Map<string, { slots: string[]; replicas: HostPort[] }>();
    for (const [start, end, [, , id], ...replicas] of ranges) {
      const shard = shards.get(id) ?? { slots: [], replicas: replicas.map(([host, port]) => ({ host, port: Number(port) })) };
      shard.slots.push(start === end ? `${start}` : `${start}-${end}`);
      shards.set(id, shard);
    }
    return [...shards.values()];
  }
  throw new BackupError(`no cluster node answers CLUSTER SLOTS (${redis.nodes.map(hostPort).join(', ')}): is the stack running?`);
}

/**
 * A cluster's snapshot: each shard's RDB from one of its replicas (never a primary: the fork would stall its users),
 * merged into one RDB (each shard's keys copied into a private redis-server that then saves), so a snapshot is the
 * same dataset whatever the topology, and restores into a cluster or a Sentinel group alike. The shards are read
 * one after another, not at one instant: a key written meanwhile may be in its shard's snapshot or not, as on one node.
 */
async function fetchClusterRdb(redis: Endpoints['redis'], output: string) {
  const shards = await clusterShards(redis);
  const work = dirname(output);
  const merged = await loadRdb(output, work);
  const sources: string[] = [];
  try {
    for (const [i, shard] of shards.entries()) {
      const shardRdb = join(work, `shard-${i + 1}.rdb`);
      sources.push(
        await rdbFromFirst(redis, shard.replicas, shardRdb, `no replica of the shard of slots ${shard.slots.join(',')}`),
      );
      await checkRdb(shardRdb);
      const source = await loadRdb(shardRdb, work);
      try {
        await source.copyInto(merged.restoreInto);
      } finally {
        await source.stop();
      }
      rmSync(shardRdb);
    }
    await merged.save();
  } finally {
    await merged.stop();
  }
  return {
    source: sources.join(','),
    notes: [`a cluster of ${shards.length} shards: each from its replica (${sources.join(', ')}), merged into one RDB`],
  };
}

async function dumpCatalog(postgres: NonNullable<Endpoints['postgres']>, output: string) {
  const args = ['--format=custom', '--no-password', '-h', postgres.host, '-p', String(postgres.port), '-U', postgres.user];
  const { code, output: message } = await run('pg_dump', [...args, '-d', postgres.database, '-f', output], {
    env: { ...process.env, PGPASSWORD: readSecret(postgres.passwordFile), PGCONNECT_TIMEOUT: '5' },
    timeoutMs: LONG_MS,
  });
  if (code !== 0) throw new BackupError(`pg_dump of ${postgres.database} failed: ${message}`);
}

const stamp = (date: Date) => date.toISOString().replace(/:/g, '-');

/**
 * One snapshot of a stack: the session Redis (RDB from a replica) and the catalogue (pg_dump), each encrypted with
 * age to the public keys in `<secretsDir>/backup_age_recipient` (or `endpoints.recipients`), plus the source's ACL
 * (encrypted) and a manifest (time, sizes, SHA-256, versions), signed with `endpoints.signingKeyFile`. Built in a private `.partial-*` directory and renamed into place only when
 * complete, so a failed or interrupted backup never looks like a snapshot. Then the retention: the last `keep`
 * scheduled snapshots and every manual one are kept. Plain text exists only inside the private work directory,
 * removed before this returns.
 */
export async function takeBackup(endpoints: Endpoints, { keep = 7, manual = false } = {}) {
  const started = performance.now();
  const createdAt = new Date();
  assertAgeInstalled();
  const recipients = endpoints.recipients
    ? parseRecipients(endpoints.recipients, 'BACKUP_AGE_RECIPIENTS')
    : readRecipients(join(endpoints.secretsDir, 'backup_age_recipient'));
  const signingKey = loadSigningKey(endpoints.signingKeyFile);
  mkdirSync(endpoints.backupsDir, { recursive: true, mode: 0o700 });
  const work = mkdtempSync(join(endpoints.backupsDir, '.partial-'));
  try {
    const plain = join(work, 'plain');
    mkdirSync(plain, { mode: 0o700 });
    const rdb = join(plain, 'redis.rdb');
    const dump = join(plain, 'catalog.dump');
    const { source, notes } = await fetchRdb(endpoints.redis, rdb);
    const redisInfo = await checkRdb(rdb);
    const { postgres } = endpoints;
    if (postgres) await dumpCatalog(postgres, dump);
    const postgresInfo = postgres ? await checkDump(dump) : undefined;
    if (!existsSync(endpoints.redis.aclFile)) throw new BackupError(`the ACL file ${endpoints.redis.aclFile} is missing`);
    copyFileSync(endpoints.redis.aclFile, join(plain, 'users.acl'));

    for (const name of ['redis.rdb', ...(postgres ? ['catalog.dump'] : []), 'users.acl'])
      await encryptFile(join(plain, name), join(work, `${name}.age`), recipients);
    rmSync(plain, { recursive: true, force: true });

    const aclName = basename(endpoints.redis.aclFile);
    const manifest: Manifest = {
      format: 1,
      createdAt: createdAt.toISOString(),
      manual,
      recipients,
      redis: { ...(await describeFile(work, 'redis.rdb.age')), version: redisInfo.version, keys: redisInfo.keys, source },
      ...(postgres && postgresInfo
        ? {
            postgres: {
              ...(await describeFile(work, 'catalog.dump.age')),
              version: postgresInfo.version,
              database: postgres.database,
            },
          }
        : {}),
      config: {
        ...(await describeFile(work, 'users.acl.age')),
        contents: [
          aclName.endsWith('.sh')
            ? `users.acl: ${aclName}, which renders the session Redis ACL from the secrets (ACL users are not in an RDB)`
            : 'users.acl: the session Redis ACL as rendered for the source (password hashes; not in an RDB)',
        ],
      },
      notes: [
        ...notes,
        'Not in a snapshot: the secrets (passwords, session secret, TLS keys), the cache Redis (disposable), the roles ' +
          "(catalog_app is created by the migrations), the Sentinels' state.",
      ],
      seconds: Math.round((performance.now() - started) / 10) / 100,
    };
    writeFileSync(join(work, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    signManifest(work, signingKey);
    const final = join(endpoints.backupsDir, `${stamp(createdAt)}${manual ? '-manual' : ''}`);
    renameSync(work, final);
    const removed = applyRetention(endpoints.backupsDir, keep);
    writeBackupMetrics(endpoints.backupsDir, manifest);
    return { path: final, manifest, removed };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Snapshot directories (those with a manifest) under `backupsDir`, oldest first. */
export const listSnapshots = (backupsDir: string) =>
  existsSync(backupsDir)
    ? readdirSync(backupsDir)
        .filter((name) => !name.startsWith('.') && existsSync(join(backupsDir, name, MANIFEST)))
        .sort()
    : [];
