// The restore drill: logged-in sessions, their "Your sessions" index, throttle counters and edited products →
// npm run backup → every byte of data wiped → npm run restore → all of it back, through nginx and on every
// instance. On the wiped stack, before the real restore: an unsigned or forged manifest, a tampered file, a truncated
// one and a wrong key are each refused with nothing restored. BACKUP_DRILL_SESSIONS=10000 runs the full drill (npm
// test runs 500); BACKUP_DRILL_WRITE_DOCS=1 puts its figures in docs/operations.md (drill-doc.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import { makeUsers } from '../lib/demo-users.ts';
import { send, sessionOf } from '../lib/http.ts';
import { isPortFree } from '../lib/ports.ts';
import { repoRoot } from '../lib/paths.ts';
import { poll, waitFor } from '../lib/poll.ts';
import { connectAdmin, redisUrl } from '../lib/redis.ts';
import { attemptLogin, loginAll, type LoggedInUser } from '../lib/session-client.ts';
import { run, spawnCaptured } from '../lib/spawn.ts';
import { startStack, type Stack } from '../stack/start-stack.ts';
import { writeDrillFigures } from './drill-doc.ts';
import { listSnapshots } from './take-backup.ts';
import { sha256Of } from './manifest.ts';
import { loadSigningKey, SIGNATURE, signManifest } from './signature.ts';

const SESSIONS = Number(process.env.BACKUP_DRILL_SESSIONS ?? 500);
/** The app allows at most 100 sessions per user (MAX_SESSIONS_PER_USER); 10 is its default. */
const PER_USER = SESSIONS >= 1000 ? 100 : 10;
const INSTANCES = 2;
const BACKUP_CLI = join(import.meta.dirname, 'backup-cli.ts');
const RESTORE_CLI = join(import.meta.dirname, 'restore-cli.ts');
const SCHEDULED_CLI = join(import.meta.dirname, 'scheduled-cli.ts');

/**
 * Ports of a stack beside any other, below the kernel's ephemeral range (32768..), so no outgoing connection takes
 * one meanwhile: the Sentinel group +0..2/+10..12, the cache +20 (or memcached +21..23), PostgreSQL +30; the apps +1.., their metrics +51..,
 * nginx +90 and the scheduled job's metrics +95 of the app base.
 */
async function freeStackPorts(redis: 'sentinel' | 'cluster') {
  // A cluster's six nodes +0..5 and their bus +10000..10005: from 12000, so the bus stays below 32768 too.
  const redisOffsets =
    redis === 'cluster'
      ? [0, 1, 2, 3, 4, 5, 10000, 10001, 10002, 10003, 10004, 10005, 20, 21, 22, 23, 30]
      : [0, 1, 2, 10, 11, 12, 20, 21, 22, 23, 30];
  for (let tries = 0; tries < 50; tries++) {
    const redisPort = redis === 'cluster' ? 12000 + Math.floor(Math.random() * 8000) : 20000 + Math.floor(Math.random() * 9900);
    const appBasePort = 30000 + Math.floor(Math.random() * 2600);
    const nginxPort = appBasePort + 90;
    const ports = [
      ...redisOffsets.map((offset) => redisPort + offset),
      ...Array.from({ length: INSTANCES }, (_, i) => [appBasePort + 1 + i, appBasePort + 51 + i]).flat(),
      nginxPort,
      appBasePort + 95,
    ];
    if ((await Promise.all(ports.map(isPortFree))).every(Boolean)) return { redisPort, appBasePort, nginxPort };
  }
  throw new Error('no free ports for a second stack in 20000..32700');
}

/** One stack on a run dir of its own, started (again) on the same ports; the test's teardown stops it. */
async function drillStack(
  t: TestContext,
  env: NodeJS.ProcessEnv,
  { cache = 'redis', redis = 'sentinel' }: { cache?: 'redis' | 'memcached'; redis?: 'sentinel' | 'cluster' } = {},
) {
  const runDir = mkdtempSync(join(tmpdir(), 'backup-drill-'));
  const ports = await freeStackPorts(redis);
  const output: string[] = [];
  let stack: Stack | undefined;
  t.after(async () => {
    await stack?.stop();
    rmSync(runDir, { recursive: true, force: true });
  });
  const start = async () => {
    // fresh: the run dir's Redis and PostgreSQL data removed first; the secrets stay.
    stack = await startStack({
      ...ports,
      runDir,
      instances: INSTANCES,
      env,
      cache,
      redis,
      fresh: true,
      print: (line) => output.push(line),
      readyTimeoutMs: 60_000,
    });
    return stack;
  };
  return {
    runDir,
    ports,
    nginx: `http://127.0.0.1:${ports.nginxPort}`,
    instanceUrls: Array.from({ length: INSTANCES }, (_, i) => `http://127.0.0.1:${ports.appBasePort + 1 + i}`),
    start,
    /** Everything wiped: the stack stopped, its data removed, started empty (migrated and seeded, nothing edited). */
    async wipe() {
      await stack?.stop();
      stack = undefined;
      return start();
    },
    /** The stack's warnings and errors so far (the app logs a 503's cause at warn): for a failure's message. */
    warnings: () =>
      output
        .filter((line) => /"level":(40|50|60)|exited unexpectedly/.test(line))
        .slice(-20)
        .join('\n'),
    get stack() {
      assert.ok(stack, 'the stack is running');
      return stack;
    },
    cli: (script: string, args: string[]) =>
      run(process.execPath, [script, '--run-dir', runDir, '--redis-port', String(ports.redisPort), '--redis', redis, ...args], {
        stdout: true,
        timeoutMs: 600_000,
      }),
  };
}

type Drill = Awaited<ReturnType<typeof drillStack>>;

/** Runs `check` over `items`, `concurrency` at a time; every failure is collected, the first few reported. */
async function checkAll<T>(items: T[], check: (item: T) => Promise<string | undefined>, concurrency = 32) {
  const failures: string[] = [];
  for (let i = 0; i < items.length; i += concurrency)
    for (const failure of await Promise.all(items.slice(i, i + concurrency).map(check))) if (failure) failures.push(failure);
  return failures;
}

const sessionsOn = (drill: Drill, users: LoggedInUser[]) =>
  checkAll(
    users.flatMap((user) => [drill.nginx, ...drill.instanceUrls].map((base) => ({ user, base }))),
    async ({ user, base }) => {
      const session = sessionOf(await send(`${base}/api/session`, { cookie: user.cookie }));
      return session?.authenticated && session.user?.username === user.username
        ? undefined
        : `${user.username} (${user.sessionId.slice(0, 8)}…) not logged in on ${base}`;
    },
  );

/** What the target holds: session keys, edited products (the restore's "nothing restored" is both at zero). */
async function dataIn(drill: Drill) {
  const admin = await connectAdmin(await drill.stack.redis.primaryAdminUrl());
  const keys = await admin.dbSize().finally(() => admin.destroy());
  const client = new pg.Client({
    host: '127.0.0.1',
    port: drill.ports.redisPort + 30,
    user: 'postgres',
    database: 'catalog',
    password: readFileSync(join(drill.runDir, 'secrets', 'postgres_password'), 'utf8').trim(),
  });
  await client.connect();
  const edited = await client
    .query<{ count: string }>('SELECT count(*) FROM products WHERE version > 1')
    .finally(() => client.end());
  return { keys, editedProducts: Number(edited.rows[0]!.count) };
}

const lastLine = (output: string) => output.trim().split('\n').at(-1) ?? '';

describe('backup and restore (tools/backup)', () => {
  it(`restore drill › ${SESSIONS} sessions, their index, throttle counters and product edits survive backup → wipe → restore; damaged snapshots and a wrong key are refused with nothing restored`, async (t) => {
    const { users, demoUsers } = makeUsers('drill', Math.ceil(SESSIONS / PER_USER));
    const throttled = { username: 'drill-throttled', password: 'drill-throttled-password' };
    const env = {
      ...process.env,
      DEMO_USERS: `${demoUsers},${throttled.username}:${throttled.password}`,
      MAX_SESSIONS_PER_USER: String(PER_USER),
      LOG_LEVEL: 'warn',
    };
    const drill = await drillStack(t, env);
    await drill.start();

    // Sessions: PER_USER logins of each user, so each user's "Your sessions" lists PER_USER.
    const logins = Array.from({ length: SESSIONS }, (_, i) => users[i % users.length]!);
    // loginAll's own pace (4 at a time): the drill proves the restore, not how logins fare on an overloaded machine.
    const sessions = await loginAll(drill.nginx, logins).catch((err: Error) =>
      assert.fail(`${err.message}; the stack's warnings:\n${drill.warnings()}`),
    );
    // Throttle: 3 failures of the account's 5 before the backup.
    for (let i = 0; i < 3; i++)
      assert.equal((await attemptLogin(drill.nginx, throttled.username, 'wrong-password')).res.status, 401);
    // Products: edited by a logged-in user (5 of the 5,000 seeded).
    const editor = sessions[0]!;
    const edits = [1, 2, 3, 1234, 5000].map((id) => ({ id, name: `Restored product ${id}`, price: `${id}.25` }));
    for (const { id, name, price } of edits) {
      const res = await send(`${drill.nginx}/products/${id}`, {
        method: 'POST',
        cookie: editor.cookie,
        form: { name, price, _csrf: editor.csrfToken },
      });
      assert.equal(res.status, 303, `edit of product ${id}: ${res.status} ${res.body.slice(0, 200)}`);
    }
    assert.deepEqual(await sessionsOn(drill, sessions.slice(0, 20)), [], 'logged in before the backup');

    // npm run backup: a scheduled snapshot, then a manual one and two more scheduled with --keep 1.
    const backupStarted = performance.now();
    const backup = await drill.cli(BACKUP_CLI, []);
    const backupSeconds = (performance.now() - backupStarted) / 1000;
    assert.equal(backup.code, 0, backup.output);
    const snapshot = lastLine(backup.output);
    assert.match(snapshot, /backups\/\d{4}-\d\d-\d\dT[\d-]+\.\d+Z$/, backup.output);
    const manifest = JSON.parse(readFileSync(join(snapshot, 'manifest.json'), 'utf8'));
    const snapshotBytes = manifest.redis.bytes + manifest.postgres.bytes + manifest.config.bytes;
    assert.ok(manifest.redis.keys >= SESSIONS, `the RDB holds the ${SESSIONS} sessions: ${manifest.redis.keys} keys`);
    assert.equal(statSync(join(drill.runDir, 'secrets', 'backup_age_key')).mode & 0o777, 0o600, 'the private key is 0600');
    const manual = lastLine((await drill.cli(BACKUP_CLI, ['--manual'])).output);
    assert.match(manual, /-manual$/);
    await drill.cli(BACKUP_CLI, ['--keep', '1']);
    const newest = lastLine((await drill.cli(BACKUP_CLI, ['--keep', '1'])).output);
    const backupsDir = join(drill.runDir, 'backups');
    assert.deepEqual(
      listSnapshots(backupsDir)
        .map((name) => join(backupsDir, name))
        .sort(),
      [manual, newest].sort(),
      'retention: the last 1 and the manual one',
    );
    // The drill restores the manual snapshot: the same data as the first.

    await t.test(
      'the scheduled job (compose service, CronJob) takes a snapshot from its environment and serves its time',
      async (t) => {
        const secrets = join(drill.runDir, 'secrets');
        const port = drill.ports.redisPort;
        const metricsPort = drill.ports.appBasePort + 95;
        const jobEnv = {
          ...process.env,
          BACKUP_REDIS_NODES: [0, 1, 2].map((i) => `127.0.0.1:${port + i}`).join(','),
          BACKUP_REDIS_SENTINELS: [10, 11, 12].map((i) => `127.0.0.1:${port + i}`).join(','),
          BACKUP_REDIS_CA_FILE: join(secrets, 'redis_ca.crt'),
          BACKUP_REDIS_REPLICA_PASSWORD_FILE: join(secrets, 'redis_replica_password'),
          BACKUP_REDIS_SENTINEL_PASSWORD_FILE: join(secrets, 'redis_sentinel_app_password'),
          BACKUP_ACL_FILE: join(repoRoot, 'infra/redis/render-acl.sh'),
          BACKUP_POSTGRES_HOST: '127.0.0.1',
          BACKUP_POSTGRES_PORT: String(port + 30),
          BACKUP_POSTGRES_PASSWORD_FILE: join(secrets, 'postgres_password'),
          BACKUP_AGE_RECIPIENTS: readFileSync(join(secrets, 'backup_age_recipient'), 'utf8').trim(),
          BACKUP_SIGNING_KEY_FILE: join(secrets, 'backup_signing_key'),
          BACKUP_DIR: join(drill.runDir, 'scheduled'),
          BACKUP_METRICS_PORT: String(metricsPort),
          HOST: '127.0.0.1',
        };
        const unset = await run(process.execPath, [SCHEDULED_CLI, 'once'], { env: { PATH: process.env.PATH } });
        assert.equal(unset.code, 2, unset.output);
        assert.match(
          unset.output,
          /BACKUP_REDIS_NODES is required[\s\S]*BACKUP_AGE_RECIPIENTS is required/,
          'every problem at once',
        );
        const once = await run(process.execPath, [SCHEDULED_CLI, 'once'], { env: jobEnv, stdout: true, timeoutMs: 120_000 });
        assert.equal(once.code, 0, once.output);
        const [taken] = listSnapshots(jobEnv.BACKUP_DIR);
        assert.ok(taken, once.output);
        const createdAt = JSON.parse(readFileSync(join(jobEnv.BACKUP_DIR, taken, 'manifest.json'), 'utf8')).createdAt;

        // A deployment without the catalogue (the Kubernetes overlays): the sessions alone.
        const { BACKUP_POSTGRES_HOST: _host, BACKUP_POSTGRES_PORT: _port, ...sessionsOnly } = jobEnv;
        const sessionsDir = join(drill.runDir, 'sessions-only');
        const alone = await run(process.execPath, [SCHEDULED_CLI, 'once'], {
          env: { ...sessionsOnly, BACKUP_DIR: sessionsDir },
          stdout: true,
          timeoutMs: 120_000,
        });
        assert.equal(alone.code, 0, alone.output);
        const [aloneName] = listSnapshots(sessionsDir);
        const aloneManifest = JSON.parse(readFileSync(join(sessionsDir, aloneName!, 'manifest.json'), 'utf8'));
        assert.equal(aloneManifest.postgres, undefined, 'no catalogue in a sessions-only snapshot');
        assert.ok(aloneManifest.redis.keys >= SESSIONS);

        // The loop finds that snapshot fresh (no new one before BACKUP_INTERVAL_S) and serves its time.
        const loop = spawnCaptured(process.execPath, [SCHEDULED_CLI, 'loop'], { env: jobEnv });
        t.after(() => loop.child.kill('SIGKILL'));
        const served = await poll(
          async () =>
            /^backup_last_success_timestamp_seconds (\S+)$/m.exec(
              (await send(`http://127.0.0.1:${metricsPort}/metrics`)).body,
            )?.[1],
          {
            timeoutMs: 10_000,
          },
        );
        assert.equal(Number(served?.value), Date.parse(createdAt) / 1000, loop.output());
        loop.child.kill('SIGTERM');
        assert.equal((await loop.exited).code, 0, loop.output());
        assert.deepEqual(listSnapshots(jobEnv.BACKUP_DIR), [taken], 'no extra snapshot on start');
      },
    );

    const wipeStarted = performance.now();
    await drill.wipe();
    const wipeSeconds = (performance.now() - wipeStarted) / 1000;
    assert.deepEqual(await dataIn(drill), { keys: 0, editedProducts: 0 }, 'wiped');
    assert.equal((await sessionsOn(drill, sessions.slice(0, 5))).length, 5 * (INSTANCES + 1), 'logged out by the wipe');

    const refused = async (what: string, snapshotDir: string, pattern: RegExp, extra: string[] = []) => {
      const result = await drill.cli(RESTORE_CLI, [...extra, snapshotDir]);
      assert.equal(result.code, 1, `${what}: exit 1\n${result.output}`);
      assert.match(result.output, pattern, `${what}: a clear error`);
      assert.doesNotMatch(result.output, /\n\s+at /, `${what}: no stack trace`);
      assert.deepEqual(await dataIn(drill), { keys: 0, editedProducts: 0 }, `${what}: nothing restored`);
    };
    const copy = (name: string) => {
      const dir = join(drill.runDir, name);
      cpSync(manual, dir, { recursive: true });
      return dir;
    };
    /** The manifest rewritten to match a changed file; re-signed with `signWith` (a key file), or left unsigned-for. */
    const rehash = async (dir: string, key: 'redis' | 'postgres', signWith?: string) => {
      const file = join(dir, 'manifest.json');
      const changed = JSON.parse(readFileSync(file, 'utf8'));
      changed[key].bytes = statSync(join(dir, changed[key].file)).size;
      changed[key].sha256 = await sha256Of(join(dir, changed[key].file));
      writeFileSync(file, JSON.stringify(changed));
      if (signWith) signManifest(dir, loadSigningKey(signWith));
    };
    // The stack's own signing key: the tests below that re-sign with it play an attacker who holds it too, to show
    // that age still refuses what the signature would have let through.
    const ownKey = join(drill.runDir, 'secrets', 'backup_signing_key');
    const flipByte = (path: string) => {
      const bytes = readFileSync(path);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = bytes[at]! ^ 0x01;
      writeFileSync(path, bytes);
    };

    await t.test('a tampered file is refused by its SHA-256', async () => {
      const dir = copy('tampered');
      flipByte(join(dir, 'catalog.dump.age'));
      await refused('tampered', dir, /catalog\.dump\.age does not match the manifest's SHA-256 \(tampered with\)/);
    });
    await t.test('an unsigned manifest, a rewritten one, and one signed by another key are refused in one line', async () => {
      const oneLine = async (what: string, dir: string, pattern: RegExp, extra: string[] = []) => {
        await refused(what, dir, pattern, extra);
        const result = await drill.cli(RESTORE_CLI, [...extra, dir]);
        assert.equal(result.output.trim().split('\n').length, 1, `${what}: one line\n${result.output}`);
      };
      const unsigned = copy('unsigned');
      rmSync(join(unsigned, SIGNATURE));
      await oneLine(
        'unsigned',
        unsigned,
        /^\[restore\] refused: .*unsigned\/manifest\.json is not signed \(manifest\.json\.sig is missing\)$/m,
      );

      const notSignedBy =
        /^\[restore\] refused: .*manifest\.json is not signed by the backup signing key .*\.pub \(forged or tampered with\)$/m;
      // Someone who can write the storage: a file swapped and the manifest rewritten to match, the signature kept.
      const rewritten = copy('rewritten');
      cpSync(join(newest, 'redis.rdb.age'), join(rewritten, 'redis.rdb.age'));
      await rehash(rewritten, 'redis');
      await oneLine('rewritten, not re-signed', rewritten, notSignedBy);
      // A forged snapshot signed with a key of the forger's own.
      const forgerKey = join(drill.runDir, 'forger_signing_key');
      writeFileSync(forgerKey, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
      const forged = copy('forged');
      cpSync(join(newest, 'redis.rdb.age'), join(forged, 'redis.rdb.age'));
      await rehash(forged, 'redis', forgerKey);
      await oneLine('signed by another key', forged, notSignedBy);
      // The genuine snapshot, checked against another public key than the stack's.
      const otherPublic = join(drill.runDir, 'other_signing_key.pub');
      writeFileSync(otherPublic, createPublicKey(readFileSync(forgerKey)).export({ type: 'spki', format: 'pem' }));
      await oneLine('another --signer', manual, notSignedBy, ['--signer', otherPublic]);
    });
    await t.test(
      'a tampered file with a manifest to match, even re-signed, is refused by age (authenticated encryption)',
      async () => {
        const dir = copy('tampered-rehashed');
        flipByte(join(dir, 'redis.rdb.age'));
        await rehash(dir, 'redis', ownKey);
        await refused('tampered, manifest rewritten', dir, /redis\.rdb\.age cannot be decrypted \(truncated or tampered with\)/);
      },
    );
    await t.test('a truncated file is refused by its size, and by age when the manifest matches it', async () => {
      const dir = copy('truncated');
      truncateSync(join(dir, 'redis.rdb.age'), Math.floor(statSync(join(dir, 'redis.rdb.age')).size / 2));
      await refused('truncated', dir, /redis\.rdb\.age is \d+ bytes, the manifest says \d+ \(truncated or tampered with\)/);
      await rehash(dir, 'redis', ownKey);
      await refused('truncated, manifest rewritten', dir, /redis\.rdb\.age cannot be decrypted \(truncated or tampered with\)/);
    });
    await t.test('a wrong key is refused, naming the key', async () => {
      const other = join(drill.runDir, 'other_age_key');
      execFileSync('age-keygen', ['-o', other], { stdio: 'pipe' });
      await refused(
        'wrong key',
        manual,
        /wrong key: .*redis\.rdb\.age was not encrypted to the key in .*other_age_key \(public key age1/,
        ['--identity', other],
      );
    });

    const restoreStarted = performance.now();
    const restore = await drill.cli(RESTORE_CLI, [manual]);
    const restoreSeconds = (performance.now() - restoreStarted) / 1000;
    assert.equal(restore.code, 0, restore.output);

    assert.deepEqual(await sessionsOn(drill, sessions), [], 'every session logged in through nginx and on every instance');
    const perUser = await checkAll(users, async ({ username }) => {
      const session = sessions.find((candidate) => candidate.username === username)!;
      const listed = JSON.parse((await send(`${drill.nginx}/api/sessions`, { cookie: session.cookie })).body || '{}');
      return listed.sessions?.length === PER_USER ? undefined : `${username}: ${listed.sessions?.length} sessions listed`;
    });
    assert.deepEqual(perUser, [], `"Your sessions" lists ${PER_USER} per user`);
    // The throttle counter came back: 2 more failures reach the limit of 5, the next is refused.
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await attemptLogin(drill.nginx, throttled.username, 'wrong-password')).res.status);
    assert.deepEqual(statuses, [401, 401, 429], 'the throttle counts on from the 3 failures before the backup');
    const productFailures = await checkAll(
      edits.flatMap((edit) => [drill.nginx, ...drill.instanceUrls].map((base) => ({ edit, base }))),
      async ({ edit, base }) => {
        const product = JSON.parse((await send(`${base}/api/products/${edit.id}`)).body || '{}');
        return product.name === edit.name && product.price === edit.price
          ? undefined
          : `${base}: product ${edit.id} is ${product.name} ${product.price}`;
      },
    );
    assert.deepEqual(productFailures, [], 'every edit present on every instance');

    await t.test('a stack with data is refused unless --force', async () => {
      const again = await drill.cli(RESTORE_CLI, [manual]);
      assert.equal(again.code, 1, again.output);
      assert.match(
        again.output,
        /the target has data \(\d+ keys in the session Redis, 5 edited products\): nothing was restored; --force replaces it/,
      );
      const forced = await drill.cli(RESTORE_CLI, ['--force', manual]);
      assert.equal(forced.code, 0, forced.output);
      assert.deepEqual(await sessionsOn(drill, sessions.slice(0, 20)), []);
    });

    if (process.env.BACKUP_DRILL_WRITE_DOCS === '1')
      writeDrillFigures({
        sessions: SESSIONS,
        backupSeconds,
        restoreSeconds,
        redisBytes: manifest.redis.bytes,
        postgresBytes: manifest.postgres.bytes,
      });
    const perThousand = Math.round((snapshotBytes / SESSIONS) * 1000);
    t.diagnostic(
      `sessions ${SESSIONS}: backup ${backupSeconds.toFixed(2)} s (snapshot ${manifest.seconds} s), restore ${restoreSeconds.toFixed(2)} s, ` +
        `wipe + empty start ${wipeSeconds.toFixed(1)} s; snapshot ${snapshotBytes} bytes (redis ${manifest.redis.bytes}, postgres ${manifest.postgres.bytes}), ` +
        `redis ${Math.round((manifest.redis.bytes / SESSIONS) * 1000)} bytes per 1,000 sessions (${perThousand} with the catalogue)`,
    );
  });
  it('with the catalogue cached on memcached › the restore empties every node: a product edited after the backup shows as backed up', async (t) => {
    const { users, demoUsers } = makeUsers('memcached', 1);
    const drill = await drillStack(t, { ...process.env, DEMO_USERS: demoUsers, LOG_LEVEL: 'warn' }, { cache: 'memcached' });
    await drill.start();
    const [editor] = await loginAll(drill.nginx, users);
    const edit = async (name: string) => {
      const res = await send(`${drill.nginx}/products/7`, {
        method: 'POST',
        cookie: editor!.cookie,
        form: { name, price: '7.50', _csrf: editor!.csrfToken },
      });
      assert.equal(res.status, 303, `edit: ${res.status} ${res.body.slice(0, 200)}`);
    };
    const product = async () => JSON.parse((await send(`${drill.nginx}/api/products/7`)).body);
    await edit('Backed-up name');
    const backup = await drill.cli(BACKUP_CLI, []);
    assert.equal(backup.code, 0, backup.output);
    await edit('Edited after the backup');
    // Cached on its memcached node (write-through), as every instance serves it.
    await waitFor('the edit served from memcached', async () => {
      const { name, cache } = await product();
      return name === 'Edited after the backup' && cache === 'hit';
    });

    const restore = await drill.cli(RESTORE_CLI, ['--force', '--cache', 'memcached', lastLine(backup.output)]);
    assert.equal(restore.code, 0, restore.output);
    assert.match(restore.output, /catalogue cache emptied \(memcached\)/);
    assert.equal((await product()).name, 'Backed-up name', 'a product from after the backup was served from the cache');
  });
  it('a Redis Cluster stack (npm start -- --redis cluster) › each shard taken from its replica, merged into one RDB; every session back on every instance after wipe → restore', async (t) => {
    const { users, demoUsers } = makeUsers('cluster', 20);
    const drill = await drillStack(t, { ...process.env, DEMO_USERS: demoUsers, LOG_LEVEL: 'warn' }, { redis: 'cluster' });
    await drill.start();
    // 5 sessions of each of 20 users: their keys and indexes spread over the three shards.
    const sessions = await loginAll(
      drill.nginx,
      Array.from({ length: 100 }, (_, i) => users[i % users.length]!),
    );
    const backup = await drill.cli(BACKUP_CLI, []);
    assert.equal(backup.code, 0, backup.output);
    const snapshot = lastLine(backup.output);
    const manifest = JSON.parse(readFileSync(join(snapshot, 'manifest.json'), 'utf8'));
    const sources: string[] = manifest.redis.source.split(',');
    assert.equal(sources.length, 3, `one source per shard: ${manifest.redis.source}`);
    const adminPassword = readFileSync(join(drill.runDir, 'secrets', 'redis_admin_password'), 'utf8').trim();
    for (const source of sources) {
      const admin = await connectAdmin(redisUrl('admin', adminPassword, Number(source.split(':')[1]), { tls: true }));
      const [role] = await admin.sendCommand<[string]>(['ROLE']).finally(() => admin.destroy());
      assert.equal(role, 'slave', `${source}, a shard's source, is a replica`);
    }
    assert.ok(manifest.redis.keys >= sessions.length, `every shard's keys in one RDB: ${manifest.redis.keys}`);

    await drill.wipe();
    assert.equal((await sessionsOn(drill, sessions.slice(0, 5))).length, 5 * (INSTANCES + 1), 'logged out by the wipe');
    const restore = await drill.cli(RESTORE_CLI, [snapshot]);
    assert.equal(restore.code, 0, restore.output);
    assert.match(restore.output, /session redis restored: \d+ keys \(into every shard of the cluster\)/);
    assert.deepEqual(await sessionsOn(drill, sessions), [], 'every session logged in through nginx and on every instance');
  });
});
