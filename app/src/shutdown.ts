import type { Server, ServerResponse } from 'node:http';

/**
 * Graceful close for an HTTP server behind a keep-alive proxy. Call right after creating the server, then `close()`
 * on SIGTERM: it stops accepting, answers every in-flight request with `Connection: close` so the proxy never sends
 * another request down a socket that is about to close, closes idle sockets at once, and resolves when all is done.
 */
export function trackConnections(server: Server) {
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  // First in line, before Express: a route may answer synchronously, and headers cannot change once sent.
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (closing) res.setHeader('Connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });

  return {
    close(): Promise<void> {
      closing = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
