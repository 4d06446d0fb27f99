import pg from 'pg';
import type { Logger } from './log.ts';

export type DbPool = ReturnType<typeof createDbPool>;

export type DbConfig = {
  /** With the password in it (from DATABASE_PASSWORD_FILE); never logged. */
  url: string;
  poolMax: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
};

/**
 * A PostgreSQL pool that fails fast: a refused or slow connection is an error within `connectTimeoutMs` (pg's default
 * waits forever), and a statement is cancelled by the server after `statementTimeoutMs` and abandoned by the client
 * shortly after, so a request never waits on the database longer than that.
 */
export function createDbPool(config: DbConfig, log: Logger) {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolMax,
    connectionTimeoutMillis: config.connectTimeoutMs,
    statement_timeout: config.statementTimeoutMs,
    // Client-side bound for a server that stopped answering altogether (statement_timeout needs a live server).
    query_timeout: config.statementTimeoutMs + 500,
    idleTimeoutMillis: 30_000,
    application_name: 'catalog',
  });
  // An idle client whose server went away emits 'error' on the pool; without a listener it crashes the process.
  let lastError = '';
  pool.on('error', (err) => {
    if (err.message !== lastError) log.warn({ reason: err.message }, 'postgres error');
    lastError = err.message;
  });
  pool.on('connect', () => {
    if (lastError) log.info('postgres connection restored');
    lastError = '';
  });
  return pool;
}

// SQLSTATE classes and client errors that mean "the database is not there right now", not "the query is wrong".
const UNAVAILABLE_SQLSTATE = /^(08|53|57014|57P0[1-3])/;
const UNAVAILABLE_MESSAGE = /timeout|Connection terminated|ECONNREFUSED|ECONNRESET|connect/i;

/** True when an error from pg means the database is away or overloaded (a 503), false for a real bug (a 500). */
export function isDbUnavailable(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || code.startsWith('E'))) return true;
  return typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message);
}

/** A trivial query within the pool's timeouts; for /readyz-style probes. */
export async function isDbReady(pool: DbPool): Promise<boolean> {
  try {
    await pool.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}
