import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { ensureSecrets } from '../../../tools/lib/secrets.ts';
import { freePort, waitFor } from './wait.ts';

/** memcached refuses to run as root without -u: as root, the nodes run as Debian's `memcache` user. */
function runAs(): { user: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'memcache'], { encoding: 'utf8' }).trim());
  return { user: 'memcache', uid: id('-u'), gid: id('-g') };
}

/**
 * `count` memcached nodes as deployed: TLS (-Z, the stack's certificate) and ASCII authentication (-Y, user `cache`
 * with the cache password), each on a free loopback port. kill/start/pause/resume per node simulate outages.
 */
export async function startMemcachedServers(t: TestContext, count = 3) {
  const dir = mkdtempSync(join(tmpdir(), 'memcached-test-'));
  const secrets = ensureSecrets(join(dir, 'secrets'));
  const password = readFileSync(secrets.redisCachePasswordFile, 'utf8').trim();
  // What memcached reads after dropping to its user: its own copies, readable by that user only.
  const files = join(dir, 'memcached');
  execFileSync('mkdir', ['-m', '700', files]);
  copyFileSync(join(secrets.dir, 'redis_server.crt'), join(files, 'server.crt'));
  copyFileSync(join(secrets.dir, 'redis_server.key'), join(files, 'server.key'));
  writeFileSync(join(files, 'authfile'), `cache:${password}\n`, { mode: 0o600 });
  const user = runAs();
  if (user) for (const name of ['', 'server.crt', 'server.key', 'authfile']) chownSync(join(files, name), user.uid, user.gid);
  chmodSync(dir, 0o755);
  const ca = readFileSync(secrets.redisCaFile, 'utf8');

  const nodes = await Promise.all(
    Array.from({ length: count }, async () => {
      const port = await freePort();
      let child: ChildProcess | undefined;
      const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
      /** A TLS connection that completes its handshake: the node is up (a stopped node never answers it). */
      const answers = () =>
        new Promise<boolean>((resolve) => {
          const socket = connect({ host: '127.0.0.1', port, ca, timeout: 500 }, () => {
            socket.destroy();
            resolve(true);
          });
          socket.on('error', () => resolve(false));
          socket.on('timeout', () => socket.destroy(new Error('timeout')));
        });
      async function start() {
        const args = ['-l', '127.0.0.1', '-p', String(port), '-m', '64', '-Z'];
        args.push(
          '-o',
          `ssl_chain_cert=${join(files, 'server.crt')},ssl_key=${join(files, 'server.key')}`,
          '-Y',
          join(files, 'authfile'),
        );
        child = spawn('memcached', user ? ['-u', user.user, ...args] : args, { stdio: 'ignore' });
        await waitFor(answers, { what: `memcached on ${port}`, timeoutMs: 5000 });
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
  return { nodes, servers: nodes.map((node) => node.server).join(','), password, caFile: secrets.redisCaFile };
}
