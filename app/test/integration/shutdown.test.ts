import assert from 'node:assert/strict';
import { Agent, createServer, request } from 'node:http';
import { connect } from 'node:net';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { trackConnections } from '../../src/shutdown.ts';

describe('trackConnections(server).close()', () => {
  it('lets an in-flight request finish with Connection: close, refuses new connections, then resolves', async (t) => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const server = createServer(async (_req, res) => {
      await released;
      res.end('finished');
    });
    const connections = trackConnections(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const agent = new Agent({ keepAlive: true });
    t.after(() => agent.destroy());

    const received = once(server, 'request');
    const inFlight = new Promise<{ body: string; connection: string | undefined }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, agent }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk)).on('end', () => resolve({ body, connection: res.headers.connection }));
      })
        .on('error', reject)
        .end();
    });
    await received;

    let closed = false;
    const closing = connections.close().then(() => (closed = true));
    await assert.rejects(
      new Promise((resolve, reject) => request({ host: '127.0.0.1', port }, resolve).on('error', reject).end()),
      /ECONNREFUSED/,
    );
    assert.equal(closed, false, 'resolved while a request was in flight');
    release();
    assert.deepEqual(await inFlight, { body: 'finished', connection: 'close' });
    await closing;
  });
});

describe('trackConnections(server).close(), a request still arriving', () => {
  it('answers a request whose headers arrive after close() began, synchronously, without crashing', async () => {
    const server = createServer((_req, res) => res.end('answered at once'));
    const connections = trackConnections(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };

    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const closing = connections.close();
    socket.write('\r\n');
    let response = '';
    socket.on('data', (chunk) => (response += chunk));
    await once(socket, 'close');
    assert.match(response, /^HTTP\/1.1 200 OK/);
    assert.match(response, /Connection: close/i);
    assert.match(response, /answered at once$/);
    await closing;
  });
});
