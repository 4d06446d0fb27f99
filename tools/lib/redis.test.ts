import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { freePort } from './ports.ts';
import { redisAnswersPing, connectAdmin } from './redis.ts';
import { waitFor } from './poll.ts';

describe('connectAdmin', () => {
  it('pipelined writes that wait 6 s to be sent (Redis stalled) are answered, not timed out (node-redis: 5 s by default)', async (t) => {
    const port = await freePort();
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    t.after(async () => {
      server.kill('SIGKILL');
      if (server.exitCode === null && server.signalCode === null) await once(server, 'exit');
    });
    const url = `redis://127.0.0.1:${port}`;
    await waitFor('redis-server', () => redisAnswersPing(url), { timeoutMs: 10_000 });
    const admin = await connectAdmin(url);
    t.after(() => admin.destroy());

    // 20 MB of writes: more than the socket buffers hold, so most wait in the client's queue until Redis reads again,
    // as a bulk load does behind a busy Redis.
    server.kill('SIGSTOP');
    const value = 'x'.repeat(1024);
    const writes = Array.from({ length: 20_000 }, (_, i) => admin.set(`key-${i}`, value));
    setTimeout(() => server.kill('SIGCONT'), 6_000);
    const answers = await Promise.allSettled(writes);
    assert.equal(answers.filter((answer) => answer.status === 'rejected').length, 0);
    assert.equal(await admin.dbSize(), 20_000);
  });
});
