// npm run rotate-secrets under a logged-in load (reads, preference writes, logins through nginx): nothing refused,
// nobody logged out; afterwards every old Redis password refused on every node and Sentinel, the ACL file and the
// configs each process loads at a restart hold the new ones (a replica restarted from them rejoins), and after
// --drop-old a cookie signed only under the old session secret is anonymous, one re-signed on a read is not.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { makeUsers } from '../lib/demo-users.ts';
import { send, sessionOf } from '../lib/http.ts';
import { waitFor } from '../lib/poll.ts';
import { redisUrl, withRedis } from '../lib/redis.ts';
import { replicaRejoins, startRotationStack, underLoggedInLoad } from '../rotate/rotation-stack.ts';
import { loginAll } from '../lib/session-client.ts';

const CLI = join(import.meta.dirname, '../rotate/rotate-cli.ts');
const INSTANCES = 2;
/** Each user of each server, and the password file it authenticates with. */
const NODE_USERS = {
  app: 'redis_app_password',
  replica: 'redis_replica_password',
  sentinel: 'redis_sentinel_password',
  exporter: 'redis_exporter_password',
  admin: 'redis_admin_password',
};
const SENTINEL_USERS = {
  'sentinel-app': 'redis_sentinel_app_password',
  'sentinel-peer': 'redis_sentinel_peer_password',
  admin: 'redis_admin_password',
};
const CACHE_USERS = { cache: 'redis_cache_password', admin: 'redis_admin_password' };

/** Whether `user` with `password` gets past the handshake (HELLO AUTH) on the server at `port`. */
const accepted = (user: string, password: string, port: number) =>
  withRedis(redisUrl(user, password, port, { tls: true }), async () => true, 2_000).catch((err: Error) => {
    if (!/WRONGPASS/.test(err.message)) throw err;
    return false;
  });

/**
 * npm run rotate-secrets under a logged-in load on a stack whose session Redis is `topology`: nothing refused, nobody
 * logged out, every old password refused and every new one accepted on every server, the ACL file on the new ones.
 */
async function rotateUnderLoad(t: TestContext, topology: 'sentinel' | 'cluster') {
  const { users, demoUsers } = makeUsers('rotate', 10);
  const { stack, runDir, secret, rotate } = await startRotationStack(t, {
    env: { ...process.env, DEMO_USERS: demoUsers },
    instances: INSTANCES,
    cli: CLI,
    redis: topology,
  });
  const baseUrl = stack.urls.nginx;
  const { redis, cache } = stack.status();
  const servers = [
    ...redis.nodes.map((node) => ({ name: node.name, port: node.port, users: NODE_USERS })),
    ...redis.sentinels.map((sentinel) => ({ name: sentinel.name, port: sentinel.port, users: SENTINEL_USERS })),
    { name: 'cache', port: cache!.port, users: CACHE_USERS },
  ];
  const names = [...new Set(servers.flatMap((server) => Object.values(server.users)))];
  const before = new Map(names.map((name) => [name, secret(name)]));
  const oldSessionSecret = secret('session_secret');

  const loggedIn = await loginAll(baseUrl, users);
  // Signed under the old secret only; never sent during the rotation, so never re-signed.
  const [untouched, comesBack] = await loginAll(baseUrl, makeUsers('rotate', 2).users);
  await underLoggedInLoad(t, { stack, users, loggedIn }, () => rotate());

  for (const server of servers)
    for (const [user, name] of Object.entries(server.users)) {
      assert.notEqual(secret(name), before.get(name), `${name} unchanged`);
      assert.equal(await accepted(user, before.get(name)!, server.port), false, `${server.name} accepts ${user}'s old password`);
      assert.equal(await accepted(user, secret(name), server.port), true, `${server.name} refuses ${user}'s new password`);
    }
  assert.deepEqual(
    readdirSync(join(runDir, 'secrets')).filter((file) => file.endsWith('.previous')),
    [],
  );
  for (const line of readFileSync(join(runDir, 'redis', 'users.acl'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('#')))
    assert.equal(line.match(/ #[0-9a-f]{64}/g)?.length, 1, `the ACL file keeps an old password: ${line.slice(0, 40)}`);
  assert.equal(secret('session_secret').split(',').length, 2);
  assert.equal(secret('session_secret').split(',')[1], oldSessionSecret);
  return { stack, secret, rotate, untouched: untouched!, comesBack: comesBack! };
}

describe('npm run rotate-secrets', () => {
  it('under a logged-in load › 0 failed requests, 0 logouts; then every old password refused everywhere, and --drop-old only after the lifetime', async (t) => {
    const { stack, secret, rotate, untouched, comesBack } = await rotateUnderLoad(t, 'sentinel');
    const baseUrl = stack.urls.nginx;

    // What a restarted process loads: a replica comes back from its config and the ACL file into the group.
    await replicaRejoins(stack);

    // A read re-signs comesBack's cookie under the new secret; untouched's stays signed under the old one only.
    const reissued = await send(`${baseUrl}/api/session`, { cookie: comesBack.cookie });
    const newCookie = /^sid=[^;]+/.exec(String(reissued.headers['set-cookie']))?.[0];
    assert.ok(newCookie, 'no cookie re-issued');
    const refused = await rotate('--drop-old');
    assert.equal(refused.code, 1);
    assert.match(refused.output, /may live until .* run --drop-old again then/);
    assert.equal(secret('session_secret').split(',').length, 2, 'dropped before the lifetime');
    const dropped = await rotate('--drop-old', '--session-lifetime-s', '1');
    assert.equal(dropped.code, 0, dropped.output);
    assert.equal(secret('session_secret').split(',').length, 1);
    assert.equal(sessionOf(await send(`${baseUrl}/api/session`, { cookie: untouched.cookie }))?.authenticated, false);
    assert.equal(sessionOf(await send(`${baseUrl}/api/session`, { cookie: newCookie }))?.user?.username, comesBack.username);
  });

  it('on a Redis Cluster › the same; then every node, started again from its files, rejoins with its replica linked', async (t) => {
    const { stack } = await rotateUnderLoad(t, 'cluster');
    // Each node loads the ACL file and its CONFIG REWRITTEn masterauth: every replica authenticates to its primary.
    await stack.redis.kill();
    await stack.redis.startNodes();
    const { nodes } = stack.status().redis;
    await waitFor(
      'every replica linked to its primary',
      async () => {
        const roles = await Promise.all(
          nodes.map((node) => withRedis(stack.redis.adminUrl(node.port), (client) => client.info('replication'))),
        );
        const replicas = roles.filter((info) => /role:slave/.test(info));
        return replicas.length === 3 && replicas.every((info) => /master_link_status:up/.test(info));
      },
      { timeoutMs: 30_000 },
    );
  });
});
