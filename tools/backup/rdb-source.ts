import { createClient, RESP_TYPES } from 'redis';
import { join } from 'node:path';
import { basename, dirname } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { waitFor } from '../lib/poll.ts';

/** Where copyInto sends each key's RESTORE: `key` routes it on a cluster. */
export type RestoreInto = (key: string | Buffer, args: (string | Buffer)[]) => Promise<unknown>;

const BATCH = 500;

/**
 * A private redis-server that loaded an RDB: no TCP port, a unix socket only its owner can open, nothing written
 * back (no AOF, no save). `copyInto` copies every key into another Redis with DUMP/RESTORE … REPLACE and the key's
 * remaining TTL (a key that expired since the snapshot was not loaded, and is not copied). An RDB path that does not
 * exist starts an empty server, which `save` writes there: the backup merges a cluster's shards so.
 */
export async function loadRdb(rdbPath: string, workDir: string) {
  const socket = join(workDir, `${basename(rdbPath)}.sock`);
  const args = ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dirname(rdbPath)];
  const child = spawn('redis-server', [...args, '--dbfilename', basename(rdbPath), '--appendonly', 'no', '--save', ''], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = once(child, 'exit');
  const client = createClient({ socket: { path: socket, reconnectStrategy: false } }).withTypeMapping({
    [RESP_TYPES.BLOB_STRING]: Buffer,
  });
  client.on('error', () => {});
  await waitFor(
    'the RDB loaded in a private redis-server',
    async () => {
      if (!client.isOpen) await client.connect();
      return (await client.ping()) === 'PONG';
    },
    { timeoutMs: 120_000, failIf: () => (child.exitCode === null ? undefined : `redis-server exited ${child.exitCode}`) },
  );

  async function copyInto(restore: RestoreInto) {
    let copied = 0;
    let cursor = '0';
    for (let rounds = 0; rounds < 10_000_000; rounds++) {
      const page = await client.scan(cursor, { COUNT: BATCH });
      cursor = String(page.cursor);
      const keys = page.keys;
      const dumps = await Promise.all(keys.map((key) => Promise.all([client.dump(key), client.pTTL(key)])));
      await Promise.all(
        keys.map((key, i) => {
          const [value, ttl] = dumps[i]!;
          if (value === null || ttl === -2) return undefined; // expired meanwhile
          return restore(key, ['RESTORE', key, String(ttl === -1 ? 0 : Math.max(ttl, 1)), value, 'REPLACE']);
        }),
      );
      copied += keys.length;
      if (cursor === '0') return copied;
    }
    throw new Error('SCAN did not finish');
  }

  return {
    copyInto,
    /** This server as a copy's target. */
    restoreInto: ((_key, args) => client.sendCommand(args)) as RestoreInto,
    /** Writes the dataset to the RDB path (SAVE, in the foreground: nobody else uses this server). */
    save: () => client.sendCommand(['SAVE']),
    async stop() {
      client.destroy();
      child.kill('SIGKILL');
      await exited;
    },
  };
}
