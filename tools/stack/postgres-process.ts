import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { runMigrations } from '../../app/db/migrate.ts';
import type { Secrets } from '../lib/secrets.ts';
import { createSupervisedProcess } from './supervised-process.ts';
import type { Supervisor } from './supervisor.ts';

/** Debian's PostgreSQL 15 (package postgresql); PG_BIN points elsewhere. */
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

type PostgresOptions = {
  supervisor: Supervisor;
  port: number;
  /** Its own cluster: data, socket and password file live here, never the system's cluster. */
  dir: string;
  secrets: Pick<Secrets, 'postgresPassword' | 'databaseAppPassword'>;
  readyTimeoutMs: number;
  /**
   * A cluster whose durability is not under test (the integration tests'): initdb without fsync, and the server
   * with fsync, synchronous commits and full-page writes off, which makes the seed and every write much faster.
   */
  throwaway?: boolean;
};

/**
 * PostgreSQL refuses to run as root: as root, the stack's cluster belongs to the `postgres` user (created by Debian's
 * package) and its processes run as it through setpriv (which execs, so signals reach postgres itself).
 */
function owner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}
const asOwner = (who: ReturnType<typeof owner>, command: string, args: string[]): [string, string[]] =>
  who ? ['setpriv', [`--reuid=${who.uid}`, `--regid=${who.gid}`, '--clear-groups', '--', command, ...args]] : [command, args];

/**
 * The catalogue's database, as compose runs it: a cluster of its own (initdb once, in the run dir), the `catalog`
 * database migrated by app/db/migrate.ts as its owner, and the app's least-privilege role `catalog_app` given its
 * password from the secrets. stop/start simulate an outage.
 */
export function createPostgresProcess({ supervisor, port, dir, secrets, readyTimeoutMs, throwaway = false }: PostgresOptions) {
  const who = owner();
  const data = join(dir, 'data');
  const superUrl = (database: string) =>
    `postgres://postgres:${encodeURIComponent(secrets.postgresPassword)}@127.0.0.1:${port}/${database}`;
  // SIGINT: PostgreSQL's fast shutdown (connections cut, a clean checkpoint).
  const lifecycle = createSupervisedProcess({
    supervisor,
    name: 'postgres',
    readyTimeoutMs,
    stopSignal: 'SIGINT',
    stopTimeoutMs: 10_000,
    quiet: true,
  });

  function initCluster() {
    // The postgres user must be able to reach its directory: the run dir (often a private 0700 temporary directory)
    // gets the search bit for others, nothing more (no listing, and the secrets inside stay 0700).
    if (who) chmodSync(dirname(dir), statSync(dirname(dir)).mode | 0o001);
    if (existsSync(join(data, 'PG_VERSION'))) return;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, secrets.postgresPassword, { mode: 0o600 });
    if (who) for (const path of [dir, pwfile]) chownSync(path, who.uid, who.gid);
    const args = ['-D', data, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C'];
    if (throwaway) args.push('--no-sync');
    execFileSync(...asOwner(who, join(PG_BIN, 'initdb'), args), { stdio: 'pipe' });
  }

  /**
   * Whether the server `pid` accepts connections, from what it writes into postmaster.pid (its pid first, "ready" 8th;
   * a file left by a killed server names another pid): polled instead of connecting, which a starting server answers,
   * and logs, as "FATAL: the database system is starting up". setpriv execs, so the child's pid is the server's.
   */
  const accepting = (pid: number | undefined) => {
    try {
      const lines = readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n');
      return lines[0]?.trim() === String(pid) && lines[7]?.trim() === 'ready';
    } catch {
      return false;
    }
  };

  /** The database, its schema and seed (migrations are idempotent), and the app role's password from the secret. */
  async function provision() {
    const admin = new pg.Client({ connectionString: superUrl('postgres') });
    await admin.connect();
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', ['catalog']);
      if (exists.rowCount === 0) await admin.query('CREATE DATABASE catalog');
    } finally {
      await admin.end();
    }
    const owned = new pg.Client({ connectionString: superUrl('catalog') });
    await owned.connect();
    try {
      await runMigrations(owned);
      await owned.query(`ALTER ROLE catalog_app LOGIN PASSWORD ${owned.escapeLiteral(secrets.databaseAppPassword)}`);
    } finally {
      await owned.end();
    }
  }

  const status = () => ({ port, pid: lifecycle.pid(), state: lifecycle.state(), database: 'catalog' });

  async function start() {
    initCluster();
    const args = ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`];
    if (throwaway) args.push(...['fsync', 'synchronous_commit', 'full_page_writes'].flatMap((name) => ['-c', `${name}=off`]));
    const [command, commandArgs] = asOwner(who, join(PG_BIN, 'postgres'), args);
    await lifecycle.start({ command, args: commandArgs, ready: async () => accepting(lifecycle.pid()) });
    await provision();
    return status();
  }

  async function stop() {
    await lifecycle.stop();
    return status();
  }

  return {
    port,
    /** The app's connection: the least-privilege role; its password is a file (DATABASE_PASSWORD_FILE). */
    appUrl: `postgres://catalog_app@127.0.0.1:${port}/catalog`,
    /** A superuser's connection to the catalogue, for operators and for asserting what is stored. */
    adminUrl: superUrl('catalog'),
    start,
    stop,
    status,
  };
}
