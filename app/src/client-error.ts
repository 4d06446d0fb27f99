import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Above what nginx passes on: up to 4 × 8 KiB of request headers (large_client_header_buffers in
 * infra/nginx/proxy.conf) plus the few it adds. nginx is then the one that refuses oversized headers, and an
 * instance never answers a request nginx accepted with Node's own 431 (Node's default limit is 16 KiB).
 */
export const MAX_HEADER_BYTES = 40 * 1024;

/** The statuses Node's own handler gives these errors; 400 for the rest. */
const STATUS_OF: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

/**
 * Node answers what its parser refuses (an unknown method, headers over the limit) itself, before the app sees it:
 * a bare 400 or 431 naming no instance. This answers them the same way, with X-Instance-Id like every other response.
 * https://nodejs.org/api/http.html#event-clienterror
 */
export function answerClientErrors(server: Server, instanceId: string) {
  // Written into the raw response: printable ASCII only, so no setting can inject a header.
  const instance = /^[\x21-\x7e]{1,100}$/.test(instanceId) ? instanceId : 'unnamed';
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A reset or timed-out connection, or one already answered: nothing to say.
    if (err.code === 'ECONNRESET' || !socket.writable || (socket as Duplex & { _httpMessage?: unknown })._httpMessage) {
      socket.destroy();
      return;
    }
    const [status, reason] = STATUS_OF[err.code ?? ''] ?? [400, 'Bad Request'];
    const body = `${reason}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Length: ${body.length}\r\nX-Instance-Id: ${instance}\r\n\r\n${body}`,
    );
  });
}
