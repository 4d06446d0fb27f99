import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accountThrottleKey } from '../../src/keys.ts';
import { createBrowser } from '../helpers/browser.ts';
import { createInstance } from '../helpers/instance.ts';
import { startRedisCluster } from '../helpers/redis-cluster.ts';
import { onCluster } from '../helpers/redis-server.ts';
import { ALICE, BOB, DEMO_USERS } from '../helpers/users.ts';
import { waitFor } from '../helpers/wait.ts';

/** A real six-node Redis Cluster (TLS, ACL) and two instances on it, by configuration alone (REDIS_CLUSTER_NODES). */
async function onTheCluster(t: Parameters<typeof startRedisCluster>[0], extra: Record<string, string> = {}) {
  const cluster = await startRedisCluster(t);
  // A replica's WAIT answer within a second, not the 100 ms default: these tests are about which shard confirms, and
  // on a loaded 2-core machine a healthy replica can take longer than 100 ms (a login or logout would get a 503).
  const env = { REDIS_COMMAND_TIMEOUT_MS: '500', REDIS_WAIT_TIMEOUT_MS: '1000', DEMO_USERS, ...extra };
  const a = await createInstance(t, cluster, { ...env, INSTANCE_ID: 'app-a' });
  const b = await createInstance(t, cluster, { ...env, INSTANCE_ID: 'app-b' });
  return { cluster, a, b };
}

const skip = onCluster && 'starts a cluster of its own';

describe('the app on a Redis Cluster', { skip }, () => {
  it('login, reads, writes, "your sessions", the throttle and logout work unchanged, each user on one slot', async (t) => {
    const { cluster, a, b } = await onTheCluster(t);
    const laptop = createBrowser();
    const phone = createBrowser();
    assert.equal((await laptop.login(a)).status, 303);
    assert.equal((await phone.login(b)).status, 303);
    assert.equal((await laptop.on(b).get('/api/session')).body.user?.username, 'alice');
    assert.equal((await laptop.on(a).post('/preferences', { _csrf: await laptop.csrfToken(a), theme: 'dark' })).status, 303);

    // A user's session keys and index share one slot (hash tags), so the scripts run on one node.
    const key = laptop.sessionKey();
    const tag = key.slice(key.indexOf('{'), key.indexOf('}') + 1);
    assert.equal(await cluster.primaryOf(key), await cluster.primaryOf(`sess-idx:${tag}`));
    assert.equal((await phone.on(a).get('/api/sessions')).body.sessions.length, 2);
    const others = await phone
      .on(b)
      .post('/sessions/revoke-others', { _csrf: await phone.csrfToken(b), password: ALICE.password });
    assert.equal(others.status, 303);
    assert.equal((await laptop.on(a).get('/api/session')).body.authenticated, false);

    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await createBrowser().login(a, { ...BOB, password: 'wrong-password' })).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    assert.equal((await phone.logout(a)).status, 303);
    assert.equal((await phone.on(b).get('/api/session')).body.authenticated, false);
    // The cluster client's discovery and every flow above within the app's ACL (render-acl.sh … cluster), on every node.
    for (const port of cluster.ports) assert.deepEqual(await (await cluster.admin(port)).aclLog(), [], `ACL LOG of node ${port}`);
  });

  it("a shard's primary SIGKILLed › its replica takes over and the user's reads succeed again within 10 s; other shards never fail", async (t) => {
    // Twelve concurrent logins of one account: room for them in the throttle and under the cap.
    const { cluster, a } = await onTheCluster(t, { LOGIN_MAX_FAILURES_PER_ACCOUNT: '100', MAX_SESSIONS_PER_USER: '100' });
    const browsers = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const browser = createBrowser();
        assert.equal((await browser.login(a)).status, 303);
        return browser;
      }),
    );
    const victim = browsers[0]!;
    const killed = await cluster.primaryOf(victim.sessionKey());
    const elsewhere: typeof browsers = [];
    for (const browser of browsers) if ((await cluster.primaryOf(browser.sessionKey())) !== killed) elsewhere.push(browser);
    await cluster.kill(killed);

    const start = performance.now();
    const seen = new Set<number>();
    let last = '';
    await waitFor(
      async () => {
        const res = await victim.on(a).get('/api/session');
        seen.add(res.status);
        last = `${res.status} ${res.text.slice(0, 120)}`;
        for (const other of elsewhere.slice(0, 3))
          assert.equal((await other.on(a).get('/api/session')).status, 200, 'another shard');
        return res.status === 200 && res.body.authenticated === true;
      },
      { what: "the killed shard's users served again", timeoutMs: 15_000, intervalMs: 100 },
    ).catch((err: Error) => assert.fail(`${err.message}; last answer: ${last}`));
    const ms = performance.now() - start;
    t.diagnostic(`reads on the killed shard succeeded again after ${ms.toFixed(0)} ms; answers meanwhile: ${[...seen]}`);
    assert.ok(ms < 10_000, `${ms.toFixed(0)} ms`);
    assert.deepEqual(
      [...seen].filter((status) => status !== 200 && status !== 503),
      [],
    );
    for (const browser of browsers)
      assert.equal((await browser.on(a).get('/api/session')).body.authenticated, true, 'no login lost');
  });

  it('an end of a session waits for its shard\'s replica › logout and "log out everywhere" answer 503 + Retry-After while it is frozen, 303 once it is back, and the session is gone from that replica too', async (t) => {
    const { cluster, a, b } = await onTheCluster(t);
    const browser = createBrowser();
    assert.equal((await browser.login(a)).status, 303);
    const attacker = createBrowser();
    attacker.jar.set('sid', browser.jar.get('sid')!);
    const other = createBrowser();
    assert.equal((await other.login(b)).status, 303);
    // The user's sessions share one slot, so one shard, one replica.
    const replica = await cluster.replicaOf(browser.sessionKey());
    assert.ok(await cluster.holds(replica, attacker.sessionKey()), 'the login on the replica');

    // b's last write on this shard is one a replica confirmed: a retry on b that ends nothing would be answered for
    // it by WAIT unless the end propagates something of its own (session-index.ts, PROPAGATE).
    assert.equal((await other.on(b).post('/preferences', { _csrf: await other.csrfToken(b), theme: 'dark' })).status, 303);
    // The dashboard's logout form, as the browser has it: sent, then sent again (a page read in between would find the
    // session gone from the primary and drop the cookie, and a logout without one has no session to confirm).
    const _csrf = await browser.csrfToken(a);
    cluster.pause(replica);
    t.after(() => cluster.resume(replica));
    const refused = await browser.on(a).post('/logout', { _csrf });
    assert.deepEqual([refused.status, refused.headers['retry-after']], [503, '1']);
    // Retried elsewhere: the cookie's session is gone, but the end still runs on its shard, and WAIT there covers the
    // delete the first try made. Three times: a logout would otherwise end a fresh id on a random shard (1 in 3 this one).
    for (let i = 0; i < 3; i++) {
      const retried = await browser.on(b).post('/logout', { _csrf });
      assert.deepEqual([retried.status, retried.headers['retry-after']], [503, '1'], `retry ${i + 1}`);
    }
    const everywhere = await other
      .on(b)
      .post('/sessions/revoke-all', { _csrf: await other.csrfToken(b), password: ALICE.password });
    assert.deepEqual([everywhere.status, everywhere.headers['retry-after']], [503, '1']);

    cluster.resume(replica);
    await waitFor(async () => (await browser.on(a).post('/logout', { _csrf })).status === 303, {
      what: 'a logout to be confirmed',
      timeoutMs: 15_000,
    });
    assert.equal(await cluster.holds(replica, attacker.sessionKey()), false, 'the session gone from the replica');
    assert.equal((await attacker.on(b).get('/api/session')).body.user, null);
  });

  it("a replica frozen in another shard › that shard's writes are refused, this one's logout is not (WAIT goes to the session's shard, not to every primary)", async (t) => {
    const { cluster, a } = await onTheCluster(t);
    const browser = createBrowser();
    assert.equal((await browser.login(a)).status, 303);
    const sessionShard = await cluster.primaryOf(browser.sessionKey());
    // An account whose throttle key lives on another shard: the instance writes there while that shard's replica is frozen.
    let username = '';
    for (let i = 0; !username; i++)
      if ((await cluster.primaryOf(accountThrottleKey(`user-${i}`))) !== sessionShard) username = `user-${i}`;
    const frozen = await cluster.replicaOf(accountThrottleKey(username));
    cluster.pause(frozen);
    t.after(() => cluster.resume(frozen));
    const attempt = await createBrowser().login(a, { username, password: 'wrong-password' });
    assert.equal(attempt.status, 503, "an attempt counted on the frozen replica's shard");
    // node-redis's own cluster `wait` goes to every primary, and the one above now has an unconfirmed write of this
    // instance's connection: that WAIT would refuse this logout for as long as the replica is frozen. (Polled: on a
    // loaded machine a healthy replica may miss the 100 ms once.)
    await waitFor(async () => (await browser.logout(a)).status === 303, { what: 'the logout confirmed', timeoutMs: 5_000 });
    assert.equal(await cluster.holds(await cluster.replicaOf(browser.sessionKey()), browser.sessionKey()), false);
  });

  it("a login attempt waits for the replicas of both its throttle keys' shards › refused 503 and not counted while either is frozen, counted once they are back", async (t) => {
    const { cluster, a } = await onTheCluster(t);
    const wrong = (username: string) => createBrowser().login(a, { username, password: 'wrong-password' });
    // The address key this test's requests are counted under: found after a first attempt.
    assert.equal((await wrong('nobody')).status, 401);
    const addresses = (
      await Promise.all((await cluster.primaries()).map(async (port) => (await cluster.admin(port)).keys('login-fail:ip:*')))
    ).flat();
    assert.equal(addresses.length, 1);
    const address = addresses[0]!;
    // An account whose key lives on another shard than the address's: the attempt writes to two shards.
    const addressShard = await cluster.primaryOf(address);
    let username = '';
    for (let i = 0; !username; i++)
      if ((await cluster.primaryOf(accountThrottleKey(`user-${i}`))) !== addressShard) username = `user-${i}`;
    const account = accountThrottleKey(username);
    const accountShard = await cluster.primaryOf(account);
    const count = async (key: string, port: number) => Number((await (await cluster.admin(port)).get(key)) ?? 0);

    for (const key of [account, address]) {
      const replica = await cluster.replicaOf(key);
      cluster.pause(replica);
      t.after(() => cluster.resume(replica));
      const refused = await wrong(username);
      assert.deepEqual([refused.status, refused.headers['retry-after']], [503, '1'], `${key}'s replica frozen`);
      assert.equal(await count(account, accountShard), 0, 'the attempt not counted against the account');
      assert.equal(await count(address, addressShard), 1, 'nor against the address');
      cluster.resume(replica);
    }
    await waitFor(async () => (await wrong(username)).status === 401, { what: 'attempts counted again', timeoutMs: 15_000 });
    assert.equal(await count(account, accountShard), 1);
    assert.equal(await count(address, addressShard), 2);
  });
});
