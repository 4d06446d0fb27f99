import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createBrowser } from '../helpers/browser.ts';
import { createInstance } from '../helpers/instance.ts';
import { startSentinelGroup } from '../helpers/sentinel-group.ts';
import { ALICE, BOB } from '../helpers/users.ts';
import { waitFor } from '../helpers/wait.ts';
import { onCluster } from '../helpers/redis-server.ts';

/** The shipped Sentinel group (TLS, ACLs), two instances following it, and a browser logged in on A. */
async function loggedIn(t: Parameters<typeof startSentinelGroup>[0]) {
  const group = await startSentinelGroup(t);
  // Some stories log one user in many times: no session may end for the cap meanwhile.
  const env = { REDIS_COMMAND_TIMEOUT_MS: '500', MAX_SESSIONS_PER_USER: '100' };
  const a = await createInstance(t, group, { ...env, INSTANCE_ID: 'app-a' });
  const b = await createInstance(t, group, { ...env, INSTANCE_ID: 'app-b' });
  const browser = createBrowser();
  assert.equal((await browser.login(a)).status, 303);
  return { group, a, b, browser };
}

/** Polls a logged-in read until it succeeds; every answer meanwhile must be 200 or 503, never a 500. */
async function untilLoggedIn(browser: ReturnType<typeof createBrowser>, target: Parameters<typeof browser.on>[0]) {
  const seen = new Set<number>();
  const start = performance.now();
  await waitFor(
    async () => {
      const res = await browser.on(target).get('/api/session');
      seen.add(res.status);
      return res.status === 200 && res.body.user?.username === 'alice';
    },
    { what: 'a logged-in read', timeoutMs: 15_000, intervalMs: 50 },
  );
  return { ms: performance.now() - start, statuses: [...seen].sort() };
}

const skip = onCluster && "Sentinel's failover (a cluster's: cluster.test.ts)";

describe('Redis primary failover (Sentinel, TLS)', { skip }, () => {
  it('primary SIGKILLed › the login survives and every instance reads and writes on the new primary within 5 s', async (t) => {
    const { group, a, b, browser } = await loggedIn(t);
    const old = await group.primaryPort();
    await group.kill(old);

    const onA = await untilLoggedIn(browser, a);
    const onB = await untilLoggedIn(browser, b);
    t.diagnostic(`logged-in reads succeeded again ${onA.ms.toFixed(0)} ms after the SIGKILL`);
    assert.ok(onA.ms < 5000, `A logged in again after ${onA.ms.toFixed(0)} ms`);
    assert.deepEqual(
      onA.statuses.filter((status) => status !== 200 && status !== 503),
      [],
    );
    assert.deepEqual(onB.statuses, [200]);
    const now = await group.primaryPort();
    assert.notEqual(now, old);
    // A write (a new login) lands on the node the Sentinels promoted.
    const bob = createBrowser();
    assert.equal((await bob.login(b, BOB)).status, 303);
    assert.equal(await (await group.admin(now)).exists(bob.sessionKey()), 1);
    // Least privilege held through it all: no node and no Sentinel refused anyone anything (replication, the
    // Sentinels' monitoring and reconfiguration, their votes, the app's discovery and switch).
    for (const port of [...group.nodePorts.filter((port) => port !== old), ...group.sentinelPorts]) {
      assert.deepEqual(await (await group.admin(port)).sendCommand(['ACL', 'LOG']), [], `ACL LOG on ${port}`);
    }
  });

  it('planned switchover (infra/redis/switchover.sh) › nothing fails meanwhile (logged-in reads, preference writes, logins on both instances), every login is on the new primary, the old primary is its replica, nobody was refused anything', async (t) => {
    const { group, a, b, browser } = await loggedIn(t);
    const old = await group.primaryPort();
    const _csrf = await browser.csrfToken(a);
    const answers: number[] = [];
    const logins: ReturnType<typeof createBrowser>[] = [];
    let switching = true;
    // Each loop sends one request at a time while the script runs (bounded by its count too).
    const loop = async (request: (i: number) => Promise<number>) => {
      for (let i = 0; switching && i < 2_000; i++) answers.push(await request(i));
    };
    const loops = [
      loop(async () => (await browser.on(a).get('/api/session')).status),
      loop(async () => (await browser.on(b).get('/api/session')).status),
      loop(
        async (i) => (await browser.on(i % 2 ? a : b).post('/preferences', { _csrf, theme: i % 2 ? 'dark' : 'light' })).status,
      ),
      loop(async (i) => {
        const bob = createBrowser();
        logins.push(bob);
        return (await bob.login(i % 2 ? a : b, BOB)).status;
      }),
    ];
    const script = join(import.meta.dirname, '../../../infra/redis/switchover.sh');
    const { stdout } = await promisify(execFile)('sh', [script, '127.0.0.1', String(group.sentinelPorts[0])], {
      env: { PATH: process.env.PATH, REDIS_CA_FILE: group.files.ca, REDIS_ADMIN_PASSWORD_FILE: group.files.adminPassword },
      timeout: 30_000,
    });
    switching = false;
    await Promise.all(loops);
    t.diagnostic(`${answers.length} answers meanwhile, ${logins.length} of them logins`);

    const now = await group.primaryPort();
    assert.notEqual(now, old);
    assert.equal(stdout.trim(), `127.0.0.1:${old} -> 127.0.0.1:${now}`);
    const unexpected = answers.filter((status) => status !== 200 && status !== 303);
    assert.deepEqual(unexpected, [], `of ${answers.length} answers`);
    assert.ok(logins.length > 0);
    const primary = await group.admin(now);
    for (const bob of logins) assert.equal(await primary.exists(bob.sessionKey()), 1, `${bob.sessionKey()} on the new primary`);
    assert.match(await (await group.admin(old)).info('replication'), new RegExp(`role:slave[\\s\\S]*master_port:${now}`));
    for (const port of [...group.nodePorts, ...group.sentinelPorts]) {
      assert.deepEqual(await (await group.admin(port)).sendCommand(['ACL', 'LOG']), [], `ACL LOG on ${port}`);
    }
  });

  it('primary frozen (SIGSTOP) › 503s meanwhile, then the promoted replica serves the session; the old primary rejoins as a replica', async (t) => {
    const { group, a, browser } = await loggedIn(t);
    const old = await group.primaryPort();
    group.pause(old);

    const { ms, statuses } = await untilLoggedIn(browser, a);
    assert.ok(ms < 6000, `logged in again after ${ms.toFixed(0)} ms`);
    assert.deepEqual(
      statuses.filter((status) => status !== 200 && status !== 503),
      [],
    );
    group.resume(old);
    await waitFor(async () => (await (await group.admin(old)).info('replication')).includes('role:slave'), {
      what: 'the old primary to be demoted',
      timeoutMs: 15_000,
      intervalMs: 200,
    });
    assert.equal((await browser.on(a).get('/api/session')).status, 200);
  });

  it('a login waits for a replica (WAIT) › refused with 503 while none answers (its attempt not counted), and a primary cut off for min-replicas-max-lag refuses reads too', async (t) => {
    const { group, a } = await loggedIn(t);
    const primary = await group.primaryPort();
    const replicas = group.nodePorts.filter((port) => port !== primary);

    const replicated = createBrowser();
    assert.equal((await replicated.login(a, BOB)).status, 303);
    const key = replicated.sessionKey();
    const onReplicas = await Promise.all(replicas.map(async (port) => (await group.admin(port)).exists(key)));
    assert.ok(onReplicas.includes(1), `on a replica as soon as the login answered: ${onReplicas}`);

    for (const port of replicas) group.pause(port);
    t.after(() => replicas.forEach((port) => group.resume(port)));
    // The login's attempt is counted by the throttle, and no password is checked before a replica has that count (a
    // failover would hand out fresh guesses): with none answering, a 503 and nothing counted.
    const start = performance.now();
    const refused = await createBrowser().login(a, BOB);
    const ms = performance.now() - start;
    assert.deepEqual([refused.status, refused.headers['retry-after']], [503, '1']);
    assert.ok(ms >= 100, `the login waited for the replicas: ${ms.toFixed(0)} ms`);

    // Cut off from every replica for longer than min-replicas-max-lag (4 s, infra/redis/replication.conf), the
    // primary refuses writes (NOREPLICAS): a logged-in read, whose script may slide the idle timeout (Redis refuses it as a write), is a 503
    // with Retry-After, never a 500. Consistency over availability, on purpose: see docs/operations.md, "Redis failover".
    const read = await waitFor(
      async () => {
        const res = await replicated.on(a).get('/api/session');
        assert.ok(res.status === 200 || res.status === 503, `read answered ${res.status}`);
        return res.status === 503 && res;
      },
      { what: 'the primary to refuse writes', timeoutMs: 20_000, intervalMs: 500 },
    );
    assert.equal(read.headers['retry-after'], '1');
    for (const port of replicas) group.resume(port);
    await waitFor(async () => (await createBrowser().login(a, BOB)).status === 303, { what: 'logins again', timeoutMs: 15_000 });
    assert.equal((await replicated.on(a).get('/api/session')).body.user?.username, 'bob');
  });

  it('an end of a session waits for a replica › 503 + Retry-After while none confirms (retried on another instance too), never a success a failover could undo', async (t) => {
    const { group, a, b, browser } = await loggedIn(t);
    const primary = await group.primaryPort();
    const replicas = group.nodePorts.filter((port) => port !== primary);
    const attacker = createBrowser();
    attacker.jar.set('sid', browser.jar.get('sid')!);
    const other = createBrowser();
    assert.equal((await other.login(b)).status, 303);
    // b's last write is one a replica confirmed: a retry on b that ends nothing would be answered for
    // it by WAIT unless the end propagates something of its own (session-index.ts, PROPAGATE).
    assert.equal((await other.on(b).post('/preferences', { _csrf: await other.csrfToken(b), theme: 'dark' })).status, 303);

    // Replicas frozen: for the 4 s of min-replicas-max-lag the primary still accepts writes; none reaches a replica.
    // The dashboard's logout form, as the browser has it: sent, then sent again (a page read in between would find the
    // session gone from the primary and drop the cookie, and a logout without one has no session to confirm).
    const _csrf = await browser.csrfToken(a);
    for (const port of replicas) group.pause(port);
    t.after(() => replicas.forEach((port) => group.resume(port)));
    const refused = await browser.on(a).post('/logout', { _csrf });
    assert.deepEqual([refused.status, refused.headers['retry-after']], [503, '1']);
    // Retried elsewhere: that instance's connection has nothing of its own to wait for, yet the delete is not confirmed.
    const retried = await browser.on(b).post('/logout', { _csrf });
    assert.deepEqual([retried.status, retried.headers['retry-after']], [503, '1']);
    const revokeAll = await other
      .on(b)
      .post('/sessions/revoke-all', { _csrf: await other.csrfToken(b), password: ALICE.password });
    assert.deepEqual([revokeAll.status, revokeAll.headers['retry-after']], [503, '1']);

    for (const port of replicas) group.resume(port);
    await waitFor(async () => (await browser.on(a).post('/logout', { _csrf })).status === 303, {
      what: 'a logout to be confirmed',
      timeoutMs: 15_000,
    });
    const onReplicas = await Promise.all(replicas.map(async (port) => (await group.admin(port)).exists(attacker.sessionKey())));
    assert.ok(onReplicas.includes(0), `the session on the replicas (WAIT 1: one has it gone): ${onReplicas}`);
    assert.equal((await attacker.on(b).get('/api/session')).body.user, null);
  });

  it('a preference waits for a replica too › 503 + Retry-After while none confirms, 303 once one does', async (t) => {
    const { group, a, browser } = await loggedIn(t);
    const primary = await group.primaryPort();
    const replicas = group.nodePorts.filter((port) => port !== primary);
    const _csrf = await browser.csrfToken(a);

    for (const port of replicas) group.pause(port);
    t.after(() => replicas.forEach((port) => group.resume(port)));
    const refused = await browser.on(a).post('/preferences', { _csrf, theme: 'dark' });
    assert.deepEqual([refused.status, refused.headers['retry-after']], [503, '1']);
    for (const port of replicas) group.resume(port);
    await waitFor(async () => (await browser.on(a).post('/preferences', { _csrf, theme: 'dark' })).status === 303, {
      what: 'a preference to be confirmed',
      timeoutMs: 15_000,
    });
  });

  it('the device cap waits for a replica too › a login that ended an older session answers 503 while none confirms', async (t) => {
    const group = await startSentinelGroup(t);
    const a = await createInstance(t, group, { REDIS_COMMAND_TIMEOUT_MS: '500', MAX_SESSIONS_PER_USER: '1' });
    const laptop = createBrowser();
    assert.equal((await laptop.login(a)).status, 303);
    const primary = await group.primaryPort();
    const replicas = group.nodePorts.filter((port) => port !== primary);

    for (const port of replicas) group.pause(port);
    t.after(() => replicas.forEach((port) => group.resume(port)));
    const phone = await createBrowser().login(a);
    assert.deepEqual([phone.status, phone.headers['retry-after']], [503, '1']);
    for (const port of replicas) group.resume(port);
    // Once a replica has the end of the laptop's session (WAIT 1: one replica, not both), it is gone for good.
    await waitFor(async () => (await createBrowser().login(a)).status === 303, {
      what: 'a login past the cap',
      timeoutMs: 15_000,
    });
    const onReplicas = await Promise.all(replicas.map(async (port) => (await group.admin(port)).exists(laptop.sessionKey())));
    assert.ok(onReplicas.includes(0), `the laptop's session on the replicas: ${onReplicas}`);
  });
});
