import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBrowser } from '../helpers/browser.ts';
import { createInstance } from '../helpers/instance.ts';
import { startRedisCluster } from '../helpers/redis-cluster.ts';
import { onCluster } from '../helpers/redis-server.ts';
import { ALICE, BOB, DEMO_USERS } from '../helpers/users.ts';
import { waitFor } from '../helpers/wait.ts';

/** A real six-node Redis Cluster (TLS, ACL) and two instances on it, by configuration alone (REDIS_CLUSTER_NODES). */
async function onTheCluster(t: Parameters<typeof startRedisCluster>[0], extra: Record<string, string> = {}) {
  const cluster = await startRedisCluster(t);
  const env = { REDIS_COMMAND_TIMEOUT_MS: '500', DEMO_USERS, ...extra };
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
});
