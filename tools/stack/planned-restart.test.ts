// A planned restart of an app instance (what a deploy, a rotation and the chaos suite's rolling restart do) takes it
// out of nginx's rotation first and puts it back once ready: under preference writes and logins through nginx, each
// instance restarted again and again, back to back, and every POST is answered 303. Without the drain, a POST can
// cross the instance's close of an idle keep-alive connection (nginx does not send a POST again) and, restarted back
// to back, nginx still counts the last one failed: measured 580 of 799 writes answered 503.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { whileWriting } from '../chaos/switchover-scenarios.ts';
import { makeUsers } from '../lib/demo-users.ts';
import { freePortBase } from '../lib/ports.ts';
import { loginAll } from '../lib/session-client.ts';
import { startStack } from './start-stack.ts';

const ROUNDS = 3;

describe('a planned instance restart', () => {
  it(`each of two instances restarted ${ROUNDS} times back to back under writes through nginx › every write and login answered 303`, async (t) => {
    const runDir = mkdtempSync(join(tmpdir(), 'planned-restart-'));
    const { users, demoUsers } = makeUsers('restart', 10);
    const stack = await startStack({
      redisPort: await freePortBase([0, 1, 2, 10, 11, 12, 20, 30], 20000, 29900),
      appBasePort: await freePortBase([1, 2, 51, 52, 90], 30000, 32600),
      runDir,
      instances: 2,
      // Logins at 4/s over 10 users pass the default cap of 10 sessions per user, a logout this test is not about.
      env: { ...process.env, DEMO_USERS: demoUsers, MAX_SESSIONS_PER_USER: '100' },
      print: () => {},
      readyTimeoutMs: 60_000,
    });
    t.after(async () => {
      await stack.stop();
      rmSync(runDir, { recursive: true, force: true });
    });
    const loggedIn = await loginAll(stack.urls.nginx, users);
    const passwords = new Map(users.map(({ username, password }) => [username, password]));
    const { records } = await whileWriting({ stack, users: loggedIn, passwords }, async () => {
      for (let round = 0; round < ROUNDS; round++) for (const { n } of stack.status().instances) await stack.instances.restart(n);
    });
    const failed = records.filter((record) => record.status !== 303);
    t.diagnostic(
      `${records.length} writes and logins over ${ROUNDS * 2} restarts; longest ${Math.round(Math.max(...records.map((r) => r.ms)))} ms`,
    );
    assert.ok(records.length > 100, `too little load: ${records.length}`);
    assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${records.length} not answered 303`);
  });
});
