// npm run rotate-certs under a logged-in load (reads, preference writes, logins through nginx), a renewal and then a
// new CA: nothing refused, nobody logged out, no acknowledged write lost. After the renewal every node, Sentinel and
// the cache presents the new certificate and no app instance was restarted; after --new-ca every one presents a
// certificate from the new CA, a client trusting only the old CA is refused by each, no app instance was restarted
// (each read the CA again on SIGHUP) and each connects to the primary again, and a replica restarted from its files
// rejoins (replication verifies the primary against the new CA alone).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { connect } from 'node:tls';
import { startLoadLoop } from '../chaos/load-loop.ts';
import { settled } from '../chaos/instance-scenarios.ts';
import { lostLogins } from '../chaos/redis-scenarios.ts';
import { lostPreferences, whileWriting } from '../chaos/switchover-scenarios.ts';
import { makeUsers } from '../lib/demo-users.ts';
import { isHttpOk } from '../lib/http.ts';
import { waitFor } from '../lib/poll.ts';
import { withRedis } from '../lib/redis.ts';
import { loginAll } from '../lib/session-client.ts';
import { startRotationStack } from '../rotate/rotation-stack.ts';

const CLI = join(import.meta.dirname, '../rotate/rotate-certs-cli.ts');

/** The serial of the certificate the server on `port` presents to a client trusting `ca` only (rejects if refused). */
const presentedSerial = (port: number, ca: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, timeout: 2_000 }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.once('error', reject);
    socket.once('timeout', () => socket.destroy(new Error(`no TLS handshake on ${port} within 2 s`)));
  });

/** A renewal then a new CA under a logged-in load, on a stack whose session Redis is `redis`; → the stack. */
async function rotateUnderLoad(t: TestContext, topology: 'sentinel' | 'cluster') {
  const { users, demoUsers } = makeUsers('certs', 10);
  const { stack, secret, runDir, rotate } = await startRotationStack(t, {
    // Logins at 4/s over 10 users: past the default cap of 10 sessions per user, which would end the load's own
    // sessions (a logout this test is not about).
    env: { ...process.env, DEMO_USERS: demoUsers, MAX_SESSIONS_PER_USER: '100' },
    instances: 2,
    cli: CLI,
    redis: topology,
  });
  const baseUrl = stack.urls.nginx;
  const { redis, cache } = stack.status();
  const servers = [...redis.nodes, ...redis.sentinels, { name: 'cache', port: cache!.port }];
  const serialOf = (name: string) => new X509Certificate(secret(name)).serialNumber;
  const oldCa = secret('redis_ca.crt');
  const firstSerial = serialOf('redis_server.crt');
  const pids = () => stack.status().instances.map((instance) => instance.pid);
  const pidsBefore = pids();

  const loggedIn = await loginAll(baseUrl, users);
  const loop = startLoadLoop({ baseUrl, users: loggedIn, ratePerS: 40, maxDurationMs: 120_000 });
  t.after(() => loop.stop());
  loop.mark('rotation');
  const passwords = new Map(users.map(({ username, password }) => [username, password]));
  const renewedSerials: string[] = [];
  const { result, records, newLogins, acknowledged } = await whileWriting({ stack, users: loggedIn, passwords }, async () => {
    const renewal = await rotate();
    assert.equal(renewal.code, 0, renewal.output);
    t.diagnostic(`renewal: ${renewal.output.trim().split('\n').at(-1)}`);
    // The same CA: the app was not restarted, and every server shows the new certificate to a new connection.
    assert.deepEqual(pids(), pidsBefore, 'an app instance was restarted by a renewal');
    for (const server of servers) renewedSerials.push(await presentedSerial(server.port, oldCa));
    assert.notEqual(serialOf('redis_server.crt'), firstSerial);
    assert.deepEqual(new Set(renewedSerials), new Set([serialOf('redis_server.crt')]));
    return rotate('--new-ca');
  });
  loop.mark('after');
  await settled(loop, 'rotation');
  await loop.stop();
  assert.equal(result.code, 0, result.output);
  const reads = loop.phase('rotation');
  const wrongReads = reads.filter((record) => record.status !== 200 || (record.username && record.authenticated !== true));
  const wrongWrites = records.filter((record) => record.status !== 303);
  t.diagnostic(
    `--new-ca: ${result.output.trim().split('\n').at(-1)}; ${reads.length} reads, ${records.length} writes and logins; longest ` +
      `${Math.round(Math.max(...reads.map((r) => r.ms), ...records.map((r) => r.ms)))} ms`,
  );
  assert.ok(reads.length > 100 && records.length > 50, `too little load: ${reads.length} reads, ${records.length} writes`);
  assert.deepEqual(wrongReads.slice(0, 5), [], `${wrongReads.length} reads failed`);
  assert.deepEqual(wrongWrites.slice(0, 5), [], `${wrongWrites.length} writes or logins failed`);
  assert.deepEqual(await lostLogins(baseUrl, [...loggedIn, ...newLogins]), [], 'users logged out');
  assert.deepEqual(await lostPreferences(baseUrl, loggedIn, acknowledged), [], 'acknowledged writes lost');
  assert.deepEqual(pids(), pidsBefore, 'an app instance was restarted by --new-ca');

  const newCa = secret('redis_ca.crt');
  assert.notEqual(newCa, oldCa);
  assert.equal(newCa.match(/BEGIN CERTIFICATE/g)?.length, 1, 'redis_ca.crt still holds two CAs');
  assert.ok(new X509Certificate(secret('redis_server.crt')).verify(new X509Certificate(newCa).publicKey));
  for (const server of servers) {
    assert.equal(
      await presentedSerial(server.port, newCa),
      serialOf('redis_server.crt'),
      `${server.name}: not the new certificate`,
    );
    await assert.rejects(presentedSerial(server.port, oldCa), /certificate/, `${server.name} accepted by the old CA`);
  }
  assert.deepEqual(
    readdirSync(join(runDir, 'secrets')).filter((file) => /previous|\.new\./.test(file)),
    [],
  );

  // The instances trust the new CA now (read again on SIGHUP): cut from every data node, each connects again.
  let cut = 0;
  for (const node of redis.nodes)
    cut += Number(
      await withRedis(stack.redisAdminUrl(node.port), (client) => client.sendCommand(['CLIENT', 'KILL', 'USER', 'app'])),
    );
  assert.ok(cut >= 2, `${cut} app connections cut`);
  for (const instance of stack.status().instances)
    await waitFor(`${instance.id} ready again after its Redis connection was cut`, () => isHttpOk(`${instance.url}/readyz`), {
      timeoutMs: 5_000,
    });

  return stack;
}

describe('npm run rotate-certs', () => {
  it('under a logged-in load › a renewal, then a new CA: 0 failed requests, 0 logouts; every server on the new certificate, the old CA refused', async (t) => {
    const stack = await rotateUnderLoad(t, 'sentinel');
    // Replication, verified against the new CA alone: a replica started again from its files syncs.
    await stack.killRedisReplica();
    await stack.startRedis();
    await waitFor(
      'the restarted replica back in sync',
      async () =>
        ((await withRedis(await stack.primaryAdminUrl(), (client) => client.info('replication'))).match(/state=online/g) ?? [])
          .length === 2,
      { timeoutMs: 30_000 },
    );
  });

  it('on a Redis Cluster › the same, and the nodes, all started again, form the cluster over the new CA alone', async (t) => {
    const stack = await rotateUnderLoad(t, 'cluster');
    // The cluster bus verifies peers against tls-ca-cert-file: every node killed and started from its files must
    // find the others again (startRedis waits for cluster_state:ok on every node).
    await stack.killRedis();
    await stack.startRedis();
  });
});
