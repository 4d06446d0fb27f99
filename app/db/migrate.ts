import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';

// Plain SQL files applied in name order, each once, each in its own transaction, recorded in schema_migrations.
// Run by the deployment as the database owner (never by the app, whose role cannot change the schema):
//   DATABASE_URL=postgres://owner@host/db DATABASE_PASSWORD_FILE=… [APP_PASSWORD_FILE=…] node app/db/migrate.ts
// With APP_PASSWORD_FILE, it then gives the app's role catalog_app (created NOLOGIN by 003) that login password, so
// no password is ever in a migration.

const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');
// Any constant: makes concurrent runs (three instances' init containers, a retried job) take turns.
const LOCK_ID = 8_141_014;

export async function runMigrations(client: pg.ClientBase, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  const applied: string[] = [];
  await client.query('SELECT pg_advisory_lock($1)', [LOCK_ID]);
  try {
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set(
      (await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((row) => row.name),
    );
    for (const name of files) {
      if (done.has(name)) continue;
      const sql = await readFile(join(dir, name), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${name} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(name);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_ID]);
  }
  return applied;
}

if (import.meta.main) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('DATABASE_URL is required (the owner role, not the app role)');
    process.exit(1);
  }
  const client = new pg.Client({ connectionString: withPassword(url, readPassword()) });
  await client.connect();
  try {
    const applied = await runMigrations(client);
    console.log(applied.length > 0 ? `applied ${applied.join(', ')}` : 'schema up to date');
    const appPasswordFile = process.env.APP_PASSWORD_FILE;
    if (appPasswordFile) {
      const password = readFileSync(appPasswordFile, 'utf8').trim();
      await client.query(`ALTER ROLE catalog_app LOGIN PASSWORD ${client.escapeLiteral(password)}`);
      console.log('catalog_app: login password set from APP_PASSWORD_FILE');
    }
  } finally {
    await client.end();
  }
}

/**
 * The password goes into the URL, as the app does (app/src/catalog/config.ts): pg lets a connection string without a
 * password override a separate `password` option, which then reaches SCRAM as undefined.
 */
export function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  const withIt = new URL(url);
  withIt.password = encodeURIComponent(password);
  return withIt.href;
}

function readPassword(): string | undefined {
  const file = process.env.DATABASE_PASSWORD_FILE;
  if (!file) return process.env.DATABASE_PASSWORD;
  return readFileSync(file, 'utf8').trim();
}
