import type { TestContext } from 'node:test';
import type { RedisClientType } from 'redis';
import { createRedisProcess } from '../../../tools/stack/redis-process.ts';
import { testSupervisor } from './test-supervisor.ts';

type Admin = Pick<RedisClientType, 'isOpen' | 'connect' | 'ping' | 'destroy'>;

/**
 * One redis-server for a test (a data node, a cache node, a cluster node or a Sentinel), run as the local stack runs
 * its own (tools/stack/redis-process.ts: the same start, readiness, kill, pause and resume), ready once `admin`, the
 * operators' client the test asserts with, answers PING. Started before this returns; killed at the test's end.
 */
export async function startTestRedisProcess(
  t: Pick<TestContext, 'after'>,
  { name, port, dir, args, admin }: { name: string; port: number; dir: string; args: () => string[]; admin: Admin },
) {
  const node = createRedisProcess({
    supervisor: testSupervisor(),
    name,
    redisServer: 'redis-server',
    args,
    port,
    dir,
    url: `redis://admin@127.0.0.1:${port}`, // for its status only; readiness is `admin`'s PING
    adminPasswordFile: '',
    readyTimeoutMs: 10_000,
    isReady: async () => {
      try {
        if (!admin.isOpen) await admin.connect();
        return (await admin.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
  });
  t.after(async () => {
    if (admin.isOpen) admin.destroy();
    await node.kill();
  });
  await node.start();
  return node;
}
