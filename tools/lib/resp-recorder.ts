import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';

/** Commands whose first argument names a subcommand, recorded as `client|setinfo` like Redis's ACL does. */
const CONTAINERS = new Set(['client', 'config', 'acl', 'command', 'memory', 'object', 'function', 'script', 'xinfo']);

/**
 * A loopback TCP proxy in front of Redis that records the name of every command its clients send (RESP arrays of
 * bulk strings, which is all a client ever sends), so a check can compare what a client really sends, handshake
 * included, with what the ACL grants. Only the client→server direction is parsed; replies pass through untouched.
 */
export async function createRespRecorder(target: { host: string; port: number }) {
  const commands = new Set<string>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection(target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => (socket === client ? upstream : client).destroy());
    }
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      for (let parsed = parseCommand(pending); parsed; parsed = parseCommand(pending)) {
        pending = pending.subarray(parsed.length);
        const [name = '', sub = ''] = parsed.argv.map((arg) => arg.toLowerCase());
        commands.add(CONTAINERS.has(name) && sub ? `${name}|${sub}` : name);
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    commands,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** One `*<n>\r\n$<len>\r\n<arg>\r\n...` array from the start of `buffer`, or undefined until it is complete. */
function parseCommand(buffer: Buffer): { argv: string[]; length: number } | undefined {
  const line = (from: number) => {
    const end = buffer.indexOf('\r\n', from);
    return end === -1 ? undefined : { text: buffer.toString('latin1', from, end), next: end + 2 };
  };
  const head = line(0);
  if (!head) return undefined;
  if (!head.text.startsWith('*')) throw new Error(`not a RESP array: ${JSON.stringify(head.text.slice(0, 20))}`);
  const argv: string[] = [];
  let at = head.next;
  for (let i = 0; i < Number(head.text.slice(1)); i += 1) {
    const size = line(at);
    if (!size) return undefined;
    const length = Number(size.text.slice(1));
    if (buffer.length < size.next + length + 2) return undefined;
    argv.push(buffer.toString('latin1', size.next, size.next + length));
    at = size.next + length + 2;
  }
  return { argv, length: at };
}
