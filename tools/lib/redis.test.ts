import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createRedisProcess } from '../stack/redis-process.ts';
import { createSupervisor } from '../stack/supervisor.ts';
import { freePort } from './ports.ts';
import { connectAdmin } from './redis.ts';

describe('connectAdmin', () => {
  it('pipelined writes that wait 6 s to be sent (Redis stalled) are answered, not timed out (node-redis: 5 s by default)', async (t) => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'admin-timeout-'));
    const url = `redis://127.0.0.1:${port}`;
    // A plain redis-server (no TLS, no ACL, no persistence), run as the stack runs its own.
    const server = createRedisProcess({
      supervisor: createSupervisor({ pidsFile: join(dir, 'pids'), print: () => {} }),
      name: 'redis',
      redisServer: 'redis-server',
      args: () => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      port,
      dir,
      url,
      adminPasswordFile: '',
      readyTimeoutMs: 10_000,
    });
    t.after(async () => {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    });
    await server.start();
    const admin = await connectAdmin(url);
    t.after(() => admin.destroy());

    // 20 MB of writes: more than the socket buffers hold, so most wait in the client's queue until Redis reads again,
    // as a bulk load does behind a busy Redis.
    server.pause();
    const value = 'x'.repeat(1024);
    const writes = Array.from({ length: 20_000 }, (_, i) => admin.set(`key-${i}`, value));
    setTimeout(() => server.resume(), 6_000);
    const answers = await Promise.allSettled(writes);
    assert.equal(answers.filter((answer) => answer.status === 'rejected').length, 0);
    assert.equal(await admin.dbSize(), 20_000);
  });
});
