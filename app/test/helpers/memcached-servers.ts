import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { memcachedAnswers, memcachedArgs, prepareMemcachedFiles } from '../../../tools/lib/memcached-server.ts';
import { ensureSecrets } from '../../../tools/lib/secrets.ts';
import { freePort, waitFor } from './wait.ts';

/**
 * `count` memcached nodes as deployed (TLS, ASCII authentication of user `cache`: tools/lib/memcached-server.ts),
 * each on a free loopback port. kill/start/pause/resume per node simulate outages.
 */
export async function startMemcachedServers(t: TestContext, count = 3) {
  const dir = mkdtempSync(join(tmpdir(), 'memcached-test-'));
  const secrets = ensureSecrets(join(dir, 'secrets'));
  const files = prepareMemcachedFiles(secrets.dir, join(dir, 'memcached'));
  const ca = readFileSync(secrets.redisCaFile, 'utf8');

  const nodes = await Promise.all(
    Array.from({ length: count }, async () => {
      const port = await freePort();
      let child: ChildProcess | undefined;
      const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
      async function start() {
        child = spawn('memcached', memcachedArgs({ ...files, port }), { stdio: 'ignore' });
        await waitFor(() => memcachedAnswers(port, ca), { what: `memcached on ${port}`, timeoutMs: 5000 });
      }
      async function kill() {
        if (!alive()) return;
        const exited = new Promise((resolve) => child!.once('exit', resolve));
        child!.kill('SIGCONT');
        child!.kill('SIGKILL');
        await exited;
      }
      await start();
      return {
        server: `127.0.0.1:${port}`,
        start,
        kill,
        pause: () => void child!.kill('SIGSTOP'),
        resume: () => void child!.kill('SIGCONT'),
      };
    }),
  );
  t.after(async () => {
    await Promise.all(nodes.map((node) => node.kill()));
    rmSync(dir, { recursive: true, force: true });
  });
  return { nodes, servers: nodes.map((node) => node.server).join(','), password: files.password, caFile: secrets.redisCaFile };
}
