import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createPostgresProcess } from '../../../tools/stack/postgres-process.ts';
import { testSupervisor } from './test-supervisor.ts';
import { freePort } from './wait.ts';

export type TestPostgres = Awaited<ReturnType<typeof startPostgresServer>>;

/**
 * A real PostgreSQL 15 cluster in a temporary directory on a free loopback port, run as the local stack runs its own
 * (tools/stack/postgres-process.ts: as the `postgres` user when root, migrated and seeded, the least-privilege
 * `catalog_app` role given a random password), without fsync. `stop`/`start` simulate an outage; the cluster and its
 * directory are removed when the test ends.
 */
export async function startPostgresServer(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'pg-test-'));
  const secrets = {
    postgresPassword: randomBytes(18).toString('base64url'),
    databaseAppPassword: randomBytes(18).toString('base64url'),
  };
  const postgres = createPostgresProcess({
    supervisor: testSupervisor(),
    port: await freePort(),
    dir: join(dir, 'postgres'),
    secrets,
    readyTimeoutMs: 15_000,
    throwaway: true,
  });
  t.after(async () => {
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await postgres.start();
  return {
    port: postgres.port,
    /** What the app is given: the least-privilege role; the password comes separately, as from a secret file. */
    appUrl: postgres.appUrl,
    appPassword: secrets.databaseAppPassword,
    /** A superuser connection string, for asserting what is stored. */
    adminUrl: postgres.adminUrl,
    start: postgres.start,
    stop: postgres.stop,
  };
}
