import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { completesHandshake } from './tls.ts';

/**
 * memcached as this project runs it (the local stack, the tests; compose and Kubernetes do the same with their own
 * files): TLS (-Z) with the stack's certificate, and ASCII authentication (-Y) of the `cache` user with the cache
 * password, from copies of the files in the run dir (0700). memcached refuses to run as root without -u: as root it
 * gets `-u root`, so it runs as the user who started it, as every other process of the stack does, and can read them.
 */
export function prepareMemcachedFiles(secretsDir: string, dir: string) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  copyFileSync(join(secretsDir, 'redis_server.crt'), join(dir, 'server.crt'));
  copyFileSync(join(secretsDir, 'redis_server.key'), join(dir, 'server.key'));
  const password = readFileSync(join(secretsDir, 'redis_cache_password'), 'utf8').trim();
  writeFileSync(join(dir, 'authfile'), `cache:${password}\n`, { mode: 0o600 });
  chmodSync(dir, 0o700);
  const user = process.getuid?.() === 0 ? 'root' : undefined;
  return { dir, user, password };
}

/** memcached's arguments for one node on 127.0.0.1:port, from prepareMemcachedFiles's folder. */
export function memcachedArgs({
  dir,
  user,
  port,
  memoryMb = 64,
}: {
  dir: string;
  user?: string;
  port: number;
  memoryMb?: number;
}) {
  return [
    ...(user ? ['-u', user] : []),
    '-l',
    '127.0.0.1',
    '-p',
    String(port),
    '-m',
    String(memoryMb),
    '-Z',
    '-o',
    `ssl_chain_cert=${join(dir, 'server.crt')},ssl_key=${join(dir, 'server.key')}`,
    '-Y',
    join(dir, 'authfile'),
  ];
}

/** The node completes a TLS handshake (a stopped one never does). */
export const memcachedAnswers = (port: number, ca: string) => completesHandshake(port, ca, 500);

type Credentials = { ca: string; username: string; password: string; timeoutMs?: number };

/**
 * Sends one command to one node, over TLS, authenticated as memcached's ASCII protocol does it (`-Y`: a `set` whose
 * data is "<user> <password>"), and resolves with the answer once `complete` says it has all arrived. Rejects with
 * what the node answered on an error, or after `timeoutMs`.
 */
function askMemcached(
  { host, port }: { host: string; port: number },
  { ca, username, password, timeoutMs = 2_000 }: Credentials,
  command: string,
  complete: (answer: string) => boolean,
): Promise<string> {
  const credentials = `${username} ${password}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ca, servername: host === '127.0.0.1' ? undefined : host, timeout: timeoutMs });
    let answer = '';
    socket.on('secureConnect', () => {
      socket.write(`set auth 0 0 ${Buffer.byteLength(credentials)}\r\n${credentials}\r\n${command}\r\n`);
    });
    socket.on('data', (chunk) => {
      answer += chunk;
      if (!answer.startsWith('STORED\r\n') && answer.includes('\r\n')) {
        socket.destroy();
        reject(new Error(`memcached ${host}:${port} refused the authentication: ${JSON.stringify(answer.trim())}`));
      } else if (/^(CLIENT_|SERVER_)?ERROR/m.test(answer)) {
        socket.destroy();
        reject(new Error(`memcached ${host}:${port} answered ${JSON.stringify(answer.trim())} to ${command}`));
      } else if (complete(answer.slice('STORED\r\n'.length))) {
        socket.end();
        resolve(answer.slice('STORED\r\n'.length));
      }
    });
    socket.on('timeout', () => socket.destroy(new Error(`memcached ${host}:${port}: no answer in ${timeoutMs} ms`)));
    socket.on('error', reject);
  });
}

/** Empties one node (`flush_all`). */
export async function flushMemcached(node: { host: string; port: number }, credentials: Credentials): Promise<void> {
  const answer = await askMemcached(node, credentials, 'flush_all', (text) => text.includes('\r\n'));
  if (answer !== 'OK\r\n')
    throw new Error(`memcached ${node.host}:${node.port} answered ${JSON.stringify(answer.trim())} to flush_all`);
}

/**
 * One node's statistics, as numbers: `stats` (curr_items, bytes...) or a group of them (`slabs`: `1:chunk_size`,
 * `1:used_chunks`... per slab class).
 */
export async function memcachedStats(node: { host: string; port: number }, credentials: Credentials, group = '') {
  const command = `stats ${group}`.trim();
  const answer = await askMemcached(node, credentials, command, (text) => text.endsWith('END\r\n'));
  const stats: Record<string, number> = {};
  for (const match of answer.matchAll(/^STAT (\S+) (\S+)\r$/gm)) stats[match[1]!] = Number(match[2]);
  return stats;
}
