// A new CA for Redis without restarting the app: SIGHUP makes a running server read REDIS_TLS_CA_FILE again, and its
// next connections verify against what it holds (app/src/redis-trust.ts). Against one real TLS redis-server whose
// certificate is replaced by one from a new CA (as npm run rotate-certs -- --new-ca does).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { createClient } from 'redis';
import { shippedFiles } from '../../../tools/lib/paths.ts';
import { completesHandshake } from '../../../tools/lib/tls.ts';
import { renderAcl, sentinelNodeArgs } from '../../../tools/lib/redis-server.ts';
import { ensureSecrets } from '../../../tools/lib/secrets.ts';
import { startTestRedisProcess } from '../helpers/redis-process.ts';
import { onCluster, startRedisServer } from '../helpers/redis-server.ts';
import { startServer } from '../helpers/server-process.ts';
import { freePort, waitFor } from '../helpers/wait.ts';

/** One TLS redis-server from the shipped files, its secrets in a throwaway dir; an admin client trusting its CA now. */
async function startTlsRedis(t: TestContext) {
  const root = mkdtempSync(join(tmpdir(), 'redis-trust-test-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const secrets = ensureSecrets(join(root, 'secrets'));
  const aclfile = join(root, 'users.acl');
  renderAcl(secrets.dir, aclfile, 'redis-server');
  const port = await freePort();
  const dir = join(root, 'node');
  mkdirSync(dir);
  const admin = createClient({
    username: 'admin',
    password: secrets.redisAdminPassword,
    maintNotifications: 'disabled',
    socket: { host: '127.0.0.1', port, tls: true, ca: readFileSync(secrets.redisCaFile), reconnectStrategy: false },
  });
  admin.on('error', () => {});
  await startTestRedisProcess(t, {
    name: 'redis-tls',
    port,
    dir,
    args: () => sentinelNodeArgs({ secretsDir: secrets.dir, dir, port, aclfile }),
    admin,
  });
  const server = await startServer(
    t,
    { url: `rediss://app@127.0.0.1:${port}`, env: {} },
    { REDIS_PASSWORD_FILE: secrets.redisAppPasswordFile, REDIS_TLS_CA_FILE: secrets.redisCaFile },
  );
  await waitFor(async () => (await fetch(`${server.url}/readyz`)).ok, { what: 'the server ready over TLS' });
  return { secrets, port, admin, server };
}

/** Sends SIGHUP and waits for the server to say how the reload went (its `nth` such line). */
async function hangUp(server: Awaited<ReturnType<typeof startServer>>, nth: number) {
  server.child.kill('SIGHUP');
  return waitFor(() => server.output().match(/redis CA (not )?reloaded/g)?.length === nth && server.output(), {
    what: `the server's answer to SIGHUP ${nth}`,
  });
}

describe('REDIS_TLS_CA_FILE read again on SIGHUP', () => {
  it('a server sent SIGHUP connects to a Redis whose certificate a new CA signed, without a restart', async (t) => {
    const { secrets, port, admin, server } = await startTlsRedis(t);
    const oldCa = readFileSync(secrets.redisCaFile, 'utf8');
    execFileSync('sh', [shippedFiles.makeTls, '--ca', secrets.dir], { stdio: 'pipe' });
    execFileSync('sh', [shippedFiles.makeTls, '--server', secrets.dir], { stdio: 'pipe' }); // signed by the new CA
    const newCa = readFileSync(join(secrets.dir, 'redis_ca.new.crt'), 'utf8');
    writeFileSync(secrets.redisCaFile, newCa);
    const files = ['tls-cert-file', 'tls-key-file', 'tls-ca-cert-file'];
    const paths = await Promise.all(files.map(async (name) => Object.values(await admin.configGet(name))[0]!));
    assert.equal(await admin.configSet(Object.fromEntries(files.map((name, i) => [name, paths[i]!]))), 'OK');
    assert.equal(await completesHandshake(port, oldCa), false, 'the server still presents a certificate the old CA signed');
    assert.equal(await completesHandshake(port, newCa), true);

    assert.match(await hangUp(server, 1), /redis CA reloaded/);
    // The app's connection, made under the old CA, is cut: its reconnect must verify against the new one.
    assert.ok(Number(await admin.sendCommand(['CLIENT', 'KILL', 'USER', 'app'])) >= 1);
    await waitFor(async () => (await fetch(`${server.url}/readyz`)).ok, { what: 'the server ready again', timeoutMs: 5_000 });
    assert.equal(server.child.exitCode, null);
  });

  it('a file without a certificate is refused: the CA read before stays trusted, and the server says so', async (t) => {
    const { secrets, admin, server } = await startTlsRedis(t);
    writeFileSync(secrets.redisCaFile, 'not a certificate\n');
    const output = await hangUp(server, 1);
    assert.match(output, /redis CA not reloaded; the CA read before stays/);
    assert.match(output, /no PEM certificate in/);

    assert.ok(Number(await admin.sendCommand(['CLIENT', 'KILL', 'USER', 'app'])) >= 1);
    await waitFor(async () => (await fetch(`${server.url}/readyz`)).ok, { what: 'the server ready again', timeoutMs: 5_000 });
  });

  it(
    'without REDIS_TLS_CA_FILE, SIGHUP reads nothing, fails nothing, and the server serves on',
    {
      skip: onCluster && 'the test cluster speaks TLS only: its servers always have a CA file',
    },
    async (t) => {
      const server = await startServer(t, await startRedisServer(t));
      server.child.kill('SIGHUP');
      await waitFor(() => server.output().includes('SIGHUP: no REDIS_TLS_CA_FILE to read again'), {
        what: 'the answer to SIGHUP',
      });
      assert.doesNotMatch(server.output(), /redis CA not reloaded/);
      assert.ok((await fetch(`${server.url}/readyz`)).ok);
    },
  );
});
