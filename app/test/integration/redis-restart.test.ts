// A Redis restart loses nothing the app wrote: sessions, session writes, logouts and login-failure counters come back
// from the AOF. Runs redis-server exactly as deployed (infra/redis/redis.conf: appendonly; the ACL rendered by
// infra/redis/render-acl.sh, `default` off) and the app as the `app` user. Its own redis-server (not the shared helper):
// it restarts it, reads its log and AOF, and switches active expiry off.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { createClient } from 'redis';
import supertest from 'supertest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { createSessionRedis } from '../../src/session-redis.ts';
import { createUserDirectory } from '../../src/users.ts';
import { createCookieJar } from '../../../tools/lib/cookie-jar.ts';
import { waitFor as waitUntil } from '../../../tools/lib/poll.ts';
import { redisArgs, renderAcl } from '../../../tools/lib/redis-server.ts';
import { ensureSecrets } from '../../../tools/lib/secrets.ts';
import { csrfTokenIn, sessionIdFromCookie } from '../../../tools/lib/session-client.ts';
import { sessionKey } from '../../src/keys.ts';
import { startTestRedisProcess } from '../helpers/redis-process.ts';
import { freePort } from '../helpers/wait.ts';
import { ALICE, BOB, DEMO_USERS } from '../helpers/users.ts';
import { onCluster } from '../helpers/redis-server.ts';

const MAX_FAILURES = 5;

const waitFor = (what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 10_000) =>
  waitUntil(what, async () => probe(), { timeoutMs, intervalMs: 10 });

/**
 * redis-server with the shipped redis.conf and ACL on a free port, under the stack's process lifecycle
 * (startTestRedisProcess); restartable on the same AOF. Its log goes to a file the test reads.
 */
async function startShippedRedis(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'redis-restart-'));
  const secrets = ensureSecrets(join(dir, 'secrets'));
  const password = { app: secrets.redisAppPassword, admin: secrets.redisAdminPassword };
  const aclfile = join(dir, 'users.acl');
  renderAcl(secrets.dir, aclfile, 'redis-server');
  const port = await freePort();
  const url = (user: 'app' | 'admin') => `redis://${user}:${password[user]}@127.0.0.1:${port}`;
  const logFile = join(dir, 'redis.log');

  const admin = createClient({ url: url('admin'), disableOfflineQueue: true, socket: { reconnectStrategy: false } });
  admin.on('error', () => {});
  // The deployment's own settings, plus only what a test needs: this port, this directory, its log in a file, and
  // DEBUG from loopback (to switch active expiry off).
  const args = () => [...redisArgs({ port, dir, aclfile }), '--enable-debug-command', 'local', '--logfile', logFile];
  const node = await startTestRedisProcess(t, { name: `redis-${port}`, port, dir, args, admin });
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  return {
    admin,
    appUrl: url('app'),
    /** What redis-server logged since it was first started (both runs). */
    log: () => readFileSync(logFile, 'utf8'),
    /** The incremental AOF, as written so far. */
    aof: () =>
      readdirSync(join(dir, 'appendonlydir'))
        .filter((name) => name.endsWith('.incr.aof'))
        .map((name) => readFileSync(join(dir, 'appendonlydir', name), 'latin1'))
        .join(''),
    /** Stops Redis the hard or the polite way, then starts it again on the same AOF. */
    async restart(how: 'SIGKILL' | 'SHUTDOWN') {
      if (how === 'SIGKILL') {
        // Every reply already sent is in the AOF file (the kernel's, not yet fsynced: a process crash keeps it).
        const written = async () => /aof_buffer_length:0\r\n/.test(await admin.info('persistence'));
        await waitFor('the AOF buffer written out', written);
        await node.kill();
      } else {
        await admin.sendCommand(['SHUTDOWN']).catch(() => undefined);
        await waitFor('redis-server gone after SHUTDOWN', () => !node.isRunning());
      }
      admin.destroy();
      await node.start();
    },
  };
}

/** One app instance as the `app` ACL user, driven over HTTP like a browser would. */
async function startApp(t: TestContext, redisUrl: string) {
  const config = loadConfig({
    NODE_ENV: 'test',
    INSTANCE_ID: 'app-restart',
    REDIS_URL: redisUrl,
    SESSION_SECRET: 'test-secret-that-is-at-least-32-characters',
    DEMO_USERS,
    LOGIN_MAX_FAILURES_PER_ACCOUNT: String(MAX_FAILURES),
    LOG_LEVEL: 'silent',
  });
  const log = createLogger(config);
  const redis = createSessionRedis(config, log);
  await redis.connect();
  t.after(() => redis.destroy());
  const app = createApp({ config, redis, users: await createUserDirectory(config.demoUsers), log });
  /** Ready again after a restart: the client reconnected by itself and Redis finished loading. */
  const ready = () => waitFor('GET /readyz 200', async () => (await supertest(app).get('/readyz')).status === 200);
  return { app, ready };
}

/** A cookie jar; `login` and `post` fetch the CSRF token from the page, as a user's browser would. */
function createBrowser(app: ReturnType<typeof createApp>, jar = createCookieJar()): Browser {
  const cookie = jar.header;
  const keep = (res: supertest.Response) => {
    jar.remember(res.headers['set-cookie']);
    return res;
  };
  const get = async (path: string) => keep(await supertest(app).get(path).set('Cookie', cookie()));
  const post = async (path: string, form: Record<string, string>) => {
    const page = await get(jar.has('sid') ? '/' : '/login');
    const _csrf = csrfTokenIn(page.text) ?? '';
    return keep(
      await supertest(app)
        .post(path)
        .type('form')
        .set('Cookie', cookie())
        .send({ _csrf, ...form }),
    );
  };
  return {
    get,
    post,
    login: (user: { username: string; password: string }) => post('/login', user),
    whoami: async () => ((await get('/api/session')).body as { user: { username: string } | null }).user?.username,
    sessionKey: () => sessionKey(sessionIdFromCookie(jar.get('sid') ?? '')),
    /** Another browser holding the same cookies (a copy kept from before a logout). */
    clone: () => createBrowser(app, jar.copy()),
  };
}
type Browser = {
  get: (path: string) => Promise<supertest.Response>;
  post: (path: string, form: Record<string, string>) => Promise<supertest.Response>;
  login: (user: { username: string; password: string }) => Promise<supertest.Response>;
  whoami: () => Promise<string | undefined>;
  sessionKey: () => string;
  clone: () => Browser;
};

/** Fails `attempts` logins for `username`; returns the statuses. */
async function failLogins(app: ReturnType<typeof createApp>, username: string, attempts: number) {
  const statuses: number[] = [];
  for (let i = 0; i < attempts; i += 1)
    statuses.push((await createBrowser(app).login({ username, password: 'wrong-password' })).status);
  return statuses;
}

/** Lines where Redis reported refusing part of its AOF, summarised: '' when there are none. */
function aofErrors(log: string): string {
  // Read from the restarted server's own log: one that never says it loaded the AOF is not that log.
  if (!/DB loaded from append only file/.test(log)) return 'no "DB loaded from append only file" in the log';
  const lines = log.split('\n').filter((line) => /NOPERM|CRITICAL/.test(line));
  return lines.length === 0 ? '' : `${lines.length} lines like: ${lines[0]}`;
}

const skip = onCluster && "one node's AOF, read back byte by byte";

describe('a Redis restart on its AOF (shipped redis.conf and ACL, app as the app user)', { skip }, () => {
  for (const how of ['SIGKILL', 'SHUTDOWN'] as const) {
    it(`${how} › sessions, session writes, logouts and login-failure counters all come back`, async (t) => {
      const redis = await startShippedRedis(t);
      const { app, ready } = await startApp(t, redis.appUrl);

      const alice = createBrowser(app);
      assert.equal((await alice.login(ALICE)).status, 303);
      assert.equal((await alice.post('/preferences', { theme: 'dark' })).status, 303);
      const bob = createBrowser(app);
      assert.equal((await bob.login(BOB)).status, 303);
      const bobBeforeLogout = bob.clone();
      assert.equal((await bob.post('/logout', {})).status, 303);
      const expected = [...Array(MAX_FAILURES).fill(401), 429];
      assert.deepEqual(await failLogins(app, BOB.username, MAX_FAILURES + 1), expected);
      // "Your sessions": two more logins of alice, and the third ends the second. Each is one script whose writes
      // the AOF records inside MULTI … EXEC (the index keys too).
      const [second, third] = [createBrowser(app), createBrowser(app)];
      for (const browser of [second, third]) assert.equal((await browser.login(ALICE)).status, 303);
      const own = (await second.get('/api/sessions')).body.sessions as { id: string; current: boolean }[];
      const secondHandle = own.find((session) => session.current)!.id;
      assert.equal((await third.post(`/sessions/${secondHandle}/revoke`, { password: ALICE.password })).status, 303);
      const index = (await redis.admin.keys('sess-idx:*'))[0]!;
      const indexBefore = await redis.admin.hGetAll(index);

      await redis.restart(how);
      await ready();

      assert.deepEqual(await redis.admin.hGetAll(index), indexBefore, 'the index survived');
      assert.equal(await second.whoami(), undefined, 'the revoke survived');
      assert.equal(await third.whoami(), 'alice');

      assert.equal(await alice.whoami(), 'alice', 'the login survived');
      assert.match((await redis.admin.get(alice.sessionKey())) ?? '', /"theme":"dark"/, 'the session write survived');
      assert.equal(await bobBeforeLogout.whoami(), undefined, 'the logout survived');
      const retry = await createBrowser(app).login(BOB);
      assert.equal(retry.status, 429, 'the login-failure counter survived: the right password is still refused');
      assert.equal(aofErrors(redis.log()), '', 'Redis refused part of its AOF');
    });
  }

  it('a failure counter whose new window began on its expired, not yet deleted key comes back', async (t) => {
    // Redis propagates such a write as MULTI, DEL, INCR, EXEC: the one transaction in the AOF the app does not send.
    const redis = await startShippedRedis(t);
    const { app, ready } = await startApp(t, redis.appUrl);
    await redis.admin.sendCommand(['DEBUG', 'SET-ACTIVE-EXPIRE', '0']);
    assert.deepEqual(await failLogins(app, BOB.username, 1), [401]);
    const { keys } = await redis.admin.scan('0', { MATCH: 'login-fail:user:*', COUNT: 100 });
    assert.equal(keys.length, 1, 'one account counter');
    const windowEnds = Date.now() + 5;
    await redis.admin.pExpire(keys[0]!, 5);
    await waitFor('the old window to end', () => Date.now() > windowEnds + 5);

    const expected = [...Array(MAX_FAILURES).fill(401), 429];
    assert.deepEqual(await failLogins(app, BOB.username, MAX_FAILURES + 1), expected);
    assert.match(redis.aof(), /MULTI\r\n\*2\r\n\$(3\r\nDEL|6\r\nUNLINK)\r\n/, 'the AOF holds the wrapped write');

    await redis.restart('SIGKILL');
    await ready();

    assert.ok((await redis.admin.ttl(keys[0]!)) > 0, 'the counter is back, with its window');
    assert.equal((await createBrowser(app).login(BOB)).status, 429, 'the right password is still refused');
    assert.equal(aofErrors(redis.log()), '', 'Redis refused part of its AOF');
  });
});
