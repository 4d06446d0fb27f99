import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { runMigrations } from '../../db/migrate.ts';
import { freePort, waitFor } from './wait.ts';

const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export type TestPostgres = Awaited<ReturnType<typeof startPostgresServer>>;

/** PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user; otherwise to us. */
function clusterOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * A real PostgreSQL 15 cluster in a temporary directory on a free loopback port, migrated and seeded, with the
 * least-privilege `catalog_app` role given a random password. `stop`/`start` simulate an outage; the cluster and its
 * directory are removed when the test ends.
 */
export async function startPostgresServer(t: TestContext) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pg-test-'));
  const data = join(dir, 'data');
  const owner = clusterOwner();
  const superPassword = randomBytes(18).toString('base64url');
  const appPassword = randomBytes(18).toString('base64url');
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, superPassword, { mode: 0o600 });
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(pwfile, owner.uid, owner.gid);
  }
  chmodSync(dir, 0o700);
  let child: ChildProcess | undefined;

  t.after(async () => {
    await stop('SIGQUIT');
    rmSync(dir, { recursive: true, force: true });
  });

  execFileSync(
    join(BIN, 'initdb'),
    ['-D', data, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { stdio: 'ignore', ...owner },
  );

  const superUrl = (database = 'postgres') => `postgres://postgres:${superPassword}@127.0.0.1:${port}/${database}`;

  async function start() {
    child = spawn(
      join(BIN, 'postgres'),
      // Durability is not under test: no fsync makes the seed and every test write much faster.
      ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`].concat([
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
      ]),
      { stdio: 'ignore', ...owner },
    );
    await waitFor(
      async () => {
        const client = new pg.Client({ connectionString: superUrl() });
        await client.connect();
        await client.end();
        return true;
      },
      { timeoutMs: 15_000, what: `postgres on ${port}` },
    );
  }

  /** SIGINT is PostgreSQL's fast shutdown: connections are cut, the port closes; SIGQUIT skips the checkpoint. */
  async function stop(signal: 'SIGINT' | 'SIGQUIT' = 'SIGINT') {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  await start();
  const setup = new pg.Client({ connectionString: superUrl() });
  await setup.connect();
  await setup.query('CREATE DATABASE catalog');
  await setup.end();
  const owned = new pg.Client({ connectionString: superUrl('catalog') });
  await owned.connect();
  await runMigrations(owned);
  await owned.query(`ALTER ROLE catalog_app LOGIN PASSWORD ${owned.escapeLiteral(appPassword)}`);
  await owned.end();

  return {
    port,
    /** What the app is given: the least-privilege role; the password comes separately, as from a secret file. */
    appUrl: `postgres://catalog_app@127.0.0.1:${port}/catalog`,
    appPassword,
    /** A superuser connection string, for asserting what is stored. */
    adminUrl: superUrl('catalog'),
    start,
    stop,
  };
}
