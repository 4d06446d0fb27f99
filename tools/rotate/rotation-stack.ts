import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { settled } from '../chaos/instance-scenarios.ts';
import { startLoadLoop } from '../chaos/load-loop.ts';
import { lostLogins } from '../chaos/redis-scenarios.ts';
import { lostPreferences, whileWriting } from '../chaos/switchover-scenarios.ts';
import { waitFor } from '../lib/poll.ts';
import { withRedis } from '../lib/redis.ts';
import type { LoggedInUser } from '../lib/session-client.ts';
import { freePortBase } from '../lib/ports.ts';
import { run } from '../lib/spawn.ts';
import { createControlToken } from '../stack/control-auth.ts';
import { startControlServer } from '../stack/control-server.ts';
import { startStack, type Stack } from '../stack/start-stack.ts';

/**
 * For the rotation tests: a Sentinel stack (or `redis: 'cluster'`) with its catalogue (so the cache Redis), on free
 * ports, and its control API as npm start -- --control serves it; `rotate(...args)` runs `cli` (a rotation's command
 * line) against it. Stopped and its run dir removed when the test ends.
 */
export async function startRotationStack(
  t: TestContext,
  {
    env,
    instances,
    cli,
    redis = 'sentinel',
  }: { env: NodeJS.ProcessEnv; instances: number; cli: string; redis?: 'sentinel' | 'cluster' },
) {
  const runDir = mkdtempSync(join(tmpdir(), 'rotate-'));
  // A cluster's six nodes on +0..+5, each with its bus port 10000 above (so below the apps' 30000..); the cache +20 and
  // PostgreSQL +30 either way.
  const redisPort =
    redis === 'cluster'
      ? await freePortBase([0, 1, 2, 3, 4, 5, 10000, 10001, 10002, 10003, 10004, 10005, 20, 30], 10000, 19900)
      : await freePortBase([0, 1, 2, 10, 11, 12, 20, 30], 20000, 29900);
  const appBasePort = await freePortBase([1, 2, 51, 52, 90, 95], 30000, 32600);
  let stack: Stack | undefined;
  let control: Awaited<ReturnType<typeof startControlServer>> | undefined;
  t.after(async () => {
    control?.close();
    control?.closeAllConnections();
    await stack?.stop();
    rmSync(runDir, { recursive: true, force: true });
  });
  const output: string[] = [];
  stack = await startStack({
    redisPort,
    appBasePort,
    nginxPort: appBasePort + 90,
    runDir,
    instances,
    redis,
    env,
    print: (line) => output.push(line),
    readyTimeoutMs: 60_000,
  });
  const controlPort = appBasePort + 95;
  control = await startControlServer(stack, { port: controlPort, token: createControlToken(runDir).token });
  const secret = (name: string) => readFileSync(join(runDir, 'secrets', name), 'utf8').trim();
  const rotate = (...args: string[]) =>
    run(process.execPath, [cli, '--run-dir', runDir, '--control-port', String(controlPort), ...args], {
      timeoutMs: 120_000,
      stdout: true,
    });
  return { stack, runDir, secret, rotate };
}

/**
 * `operation` (a rotation's command line) run under a logged-in load through nginx: `loggedIn`'s reads (40/s), their
 * preference writes and new logins (whileWriting, with `users`' passwords). Then it must have exited 0, with every read
 * 200 as logged in, every write and login 303, nobody logged out and no acknowledged write lost. → its result.
 */
export async function underLoggedInLoad(
  t: TestContext,
  { stack, users, loggedIn }: { stack: Stack; users: { username: string; password: string }[]; loggedIn: LoggedInUser[] },
  operation: () => Promise<{ code: number; output: string }>,
) {
  const baseUrl = stack.urls.nginx;
  const loop = startLoadLoop({ baseUrl, users: loggedIn, ratePerS: 40, maxDurationMs: 120_000 });
  t.after(() => loop.stop());
  loop.mark('rotation');
  const passwords = new Map(users.map(({ username, password }) => [username, password]));
  const { result, records, newLogins, acknowledged } = await whileWriting({ stack, users: loggedIn, passwords }, operation);
  loop.mark('after');
  await settled(loop, 'rotation');
  await loop.stop();
  assert.equal(result.code, 0, result.output);
  const reads = loop.phase('rotation');
  const wrongReads = reads.filter((record) => record.status !== 200 || (record.username && record.authenticated !== true));
  const wrongWrites = records.filter((record) => record.status !== 303);
  t.diagnostic(
    `${result.output.trim().split('\n').at(-1)}; ${reads.length} reads, ${records.length} writes and logins; longest ` +
      `${Math.round(Math.max(...reads.map((r) => r.ms), ...records.map((r) => r.ms)))} ms`,
  );
  // That the load ran throughout (a second of it at least): a rotation of a few seconds sees ~150 reads and ~90 writes.
  assert.ok(reads.length >= 40 && records.length >= 20, `too little load: ${reads.length} reads, ${records.length} writes`);
  assert.deepEqual(wrongReads.slice(0, 5), [], `${wrongReads.length} reads failed`);
  assert.deepEqual(wrongWrites.slice(0, 5), [], `${wrongWrites.length} writes or logins failed`);
  assert.deepEqual(await lostLogins(baseUrl, [...loggedIn, ...newLogins]), [], 'users logged out');
  assert.deepEqual(await lostPreferences(baseUrl, loggedIn, acknowledged), [], 'acknowledged writes lost');
  return result;
}

/** A replica killed and started again from its files (its config, the ACL file, the TLS files) syncs with the primary. */
export async function replicaRejoins(stack: Stack) {
  await stack.redis.killReplica();
  await stack.redis.startNodes();
  await waitFor(
    'the restarted replica back in sync',
    async () =>
      (
        (await withRedis(await stack.redis.primaryAdminUrl(), (client) => client.info('replication'))).match(/state=online/g) ??
        []
      ).length === 2,
    { timeoutMs: 30_000 },
  );
}
