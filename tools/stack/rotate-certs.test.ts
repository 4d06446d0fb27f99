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
import { makeUsers } from '../lib/demo-users.ts';
import { isHttpOk } from '../lib/http.ts';
import { waitFor } from '../lib/poll.ts';
import { withRedis } from '../lib/redis.ts';
import { loginAll } from '../lib/session-client.ts';
import { replicaRejoins, startRotationStack, underLoggedInLoad } from '../rotate/rotation-stack.ts';

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
  const renewedSerials: string[] = [];
  await underLoggedInLoad(t, { stack, users, loggedIn }, async () => {
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
      await withRedis(stack.redis.adminUrl(node.port), (client) => client.sendCommand(['CLIENT', 'KILL', 'USER', 'app'])),
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
    await replicaRejoins(stack);
  });

  it('on a Redis Cluster › the same, and the nodes, all started again, form the cluster over the new CA alone', async (t) => {
    const stack = await rotateUnderLoad(t, 'cluster');
    // The cluster bus verifies peers against tls-ca-cert-file: every node killed and started from its files must
    // find the others again (startRedis waits for cluster_state:ok on every node).
    await stack.redis.kill();
    await stack.redis.startNodes();
  });
});
