import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { Logger } from '../log.ts';
import { createHashRing } from './hash-ring.ts';

export type MemcachedOptions = {
  /** `host:port` of every node; keys are spread over them by consistent hashing. */
  servers: string[];
  /** Set: TLS to every node (memcached -Z), verified against this CA, with the node's host name. */
  tlsCa?: string;
  /** Set: memcached's ASCII authentication (-Y), sent once per connection before any command. */
  auth?: { username: string; password: string };
  /** The longest a command waits; beyond it the node counts as away for `bypassMs`. */
  timeoutMs: number;
  bypassMs: number;
  log: Logger;
};

type Reply = { status: string; value?: Buffer; flags: string[] };
type Pending = { resolve: (reply: Reply) => void; reject: (err: Error) => void; timer: NodeJS.Timeout };

/** Commands queued on a node that does not answer, beyond which new ones fail at once. */
const MAX_PENDING = 1000;

/**
 * A memcached client on the meta protocol (`mg`, `ms`, `md`), small on purpose: one pipelined connection per node,
 * keys spread by consistent hashing, a deadline on every command, and a node that failed or timed out skipped for
 * `bypassMs` (its share of the keys goes to the database meanwhile; it is never re-hashed onto the other nodes, whose
 * copies could outlive an edit made while it was away). Why not a published client: see docs/caching.md, "Which engine".
 */
export function createMemcachedClient(options: MemcachedOptions) {
  const nodes = options.servers.map((server) => createNode(server, options));
  const ring = createHashRing(nodes, (node) => node.server);
  return {
    nodes,
    nodeFor: (key: string) => ring.nodeFor(key),
    /** The node of `key` is connected (or may connect) and not being skipped. */
    available: (key: string) => ring.nodeFor(key).available(),
    async get(key: string): Promise<{ value: Buffer; cas: string } | null> {
      const reply = await ring.nodeFor(key).send(`mg ${key} v c\r\n`);
      if (reply.status === 'EN') return null;
      if (reply.status !== 'VA' || !reply.value) throw new Error(`mg: ${reply.status}`);
      return { value: reply.value, cas: flag(reply.flags, 'c') ?? '' };
    },
    /** `mode`: set (S), add if absent (E), or replace only if unchanged since `cas`. Resolves true when stored. */
    async set(key: string, value: Buffer, ttlS: number, condition: { add: true } | { cas: string } | {} = {}): Promise<boolean> {
      const extra = 'add' in condition ? ' ME' : 'cas' in condition ? ` C${condition.cas}` : '';
      const reply = await ring.nodeFor(key).send(`ms ${key} ${value.length} T${ttlS}${extra}\r\n`, value);
      if (reply.status === 'HD') return true;
      if (reply.status === 'NS' || reply.status === 'EX' || reply.status === 'NF') return false;
      throw new Error(`ms: ${reply.status}`);
    },
    async delete(key: string): Promise<void> {
      const reply = await ring.nodeFor(key).send(`md ${key}\r\n`);
      if (reply.status !== 'HD' && reply.status !== 'NF') throw new Error(`md: ${reply.status}`);
    },
    close() {
      for (const node of nodes) node.close();
    },
  };
}

export type MemcachedClient = ReturnType<typeof createMemcachedClient>;

const flag = (flags: string[], name: string) => flags.find((f) => f.startsWith(name))?.slice(1);

function createNode(server: string, { tlsCa, auth, timeoutMs, bypassMs, log }: MemcachedOptions) {
  const separator = server.lastIndexOf(':');
  const host = server.slice(0, separator);
  const port = Number(server.slice(separator + 1));
  let socket: Socket | undefined;
  let buffer: Buffer = Buffer.alloc(0);
  const pending: Pending[] = [];
  let skipUntil = 0;
  let closed = false;

  function fail(reason: string) {
    if (Date.now() >= skipUntil) log.warn({ node: server, reason }, 'cache node unavailable');
    skipUntil = Date.now() + bypassMs;
    socket?.destroy();
    socket = undefined;
    buffer = Buffer.alloc(0);
    for (const request of pending.splice(0)) {
      clearTimeout(request.timer);
      request.reject(new Error(`${server}: ${reason}`));
    }
  }

  function open(): Socket {
    const opened = tlsCa
      ? connectTls({ host, port, ca: tlsCa, ...(isIP(host) ? {} : { servername: host }), timeout: timeoutMs })
      : connectTcp({ host, port, timeout: timeoutMs });
    opened.setNoDelay(true);
    opened.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      parseReplies();
    });
    opened.on('error', (err) => socket === opened && fail(err.message));
    opened.on('close', () => socket === opened && fail('connection closed'));
    // Only until connected: a slow handshake is an error; later waits are bounded per command.
    opened.once(tlsCa ? 'secureConnect' : 'connect', () => opened.setTimeout(0));
    opened.on('timeout', () => socket === opened && fail('connect timeout'));
    if (auth) {
      // memcached -Y: any `set` carrying "<user> <password>" authenticates the connection; answered STORED.
      const credentials = Buffer.from(`${auth.username} ${auth.password}`);
      enqueue(`set auth 0 0 ${credentials.length}\r\n`, credentials, opened).then(
        (reply) => reply.status !== 'STORED' && fail(`authentication answered ${reply.status}`),
        (err: Error) => fail(`authentication refused (${err.message})`),
      );
    }
    return opened;
  }

  function parseReplies() {
    for (;;) {
      const end = buffer.indexOf('\r\n');
      if (end < 0) return;
      const [status = '', ...rest] = buffer.subarray(0, end).toString('latin1').split(' ');
      let value: Buffer | undefined;
      let consumed = end + 2;
      let flags = rest;
      if (status === 'VA') {
        const size = Number(rest[0]);
        if (buffer.length < consumed + size + 2) return; // the value has not all arrived
        value = buffer.subarray(consumed, consumed + size);
        consumed += size + 2;
        flags = rest.slice(1);
      }
      buffer = buffer.subarray(consumed);
      const request = pending.shift();
      if (!request) return fail(`unexpected reply ${status}`);
      clearTimeout(request.timer);
      if (status === 'ERROR' || status === 'CLIENT_ERROR' || status === 'SERVER_ERROR')
        request.reject(new Error(`${server}: ${status} ${rest.join(' ')}`));
      else request.resolve({ status, value, flags });
    }
  }

  function enqueue(command: string, data: Buffer | undefined, on: Socket): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
      pending.push({ resolve, reject, timer });
      on.write(data ? Buffer.concat([Buffer.from(command), data, Buffer.from('\r\n')]) : command);
    });
  }

  return {
    server,
    available: () => !closed && Date.now() >= skipUntil,
    /** Connected right now (for /status and tests; a node is connected lazily, on its first command). */
    connected: () => socket !== undefined && !socket.connecting,
    send(command: string, data?: Buffer): Promise<Reply> {
      if (closed) return Promise.reject(new Error('cache client closed'));
      if (Date.now() < skipUntil) return Promise.reject(new Error(`${server}: skipped after a failure`));
      if (pending.length >= MAX_PENDING) return Promise.reject(new Error(`${server}: too many commands waiting`));
      socket ??= open();
      return enqueue(command, data, socket);
    },
    close() {
      closed = true;
      fail('closed');
    },
  };
}
