import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { withPassword } from '../../db/migrate.ts';
import { startPostgresServer } from '../helpers/postgres-server.ts';
import { onCluster } from '../helpers/redis-server.ts';
import { run } from '../../../tools/lib/spawn.ts';

const migrate = join(import.meta.dirname, '../../db/migrate.ts');

// As the compose `migrate` one-shot and the Kubernetes job run it: the owner's URL without a password, the
// password in a file, the app role's password in another.
test('node app/db/migrate.ts', { skip: onCluster && 'on PostgreSQL only' }, async (t) => {
  const postgres = await startPostgresServer(t);
  const dir = mkdtempSync(join(tmpdir(), 'migrate-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ownerPassword = decodeURIComponent(new URL(postgres.adminUrl).password);
  const newAppPassword = 'a-new-password-for-catalog-app';
  writeFileSync(join(dir, 'owner'), `${ownerPassword}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'app'), `${newAppPassword}\n`, { mode: 0o600 });

  await t.test('logs in with DATABASE_PASSWORD_FILE and gives catalog_app the password of APP_PASSWORD_FILE', async () => {
    const result = await run(process.execPath, [migrate], {
      stdout: true,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: `postgres://postgres@127.0.0.1:${postgres.port}/catalog`,
        DATABASE_PASSWORD_FILE: join(dir, 'owner'),
        APP_PASSWORD_FILE: join(dir, 'app'),
      },
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /schema up to date/);
    const app = new pg.Client({ connectionString: withPassword(postgres.appUrl, newAppPassword) });
    await app.connect();
    const { rows } = await app.query('SELECT current_user AS who');
    await app.end();
    assert.equal(rows[0].who, 'catalog_app');
  });
});
