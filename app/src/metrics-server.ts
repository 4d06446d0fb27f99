import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type MetricsServer = Awaited<ReturnType<typeof startMetricsServer>>;

/**
 * /metrics on a listener of its own, bound like the app (HOST) on its own port: the proxy in front of the app never
 * forwards to it, so metrics are reachable by Prometheus on the internal network and by nobody through nginx.
 * Plain node:http rather than a second Express app: one path, nothing else to serve.
 */
export async function startMetricsServer({ registry, host, port }: { registry: Registry; host: string; port: number }) {
  const server = createServer(async (req, res) => {
    const path = req.url?.split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('Method not allowed\n');
      return;
    }
    try {
      const body = await registry.metrics();
      res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' }).end(body);
    } catch {
      // A collect callback that throws must not take the instance down; Prometheus records the failed scrape.
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('Metrics collection failed\n');
    }
  });
  // Scrapes are small and frequent; a stuck client must not hold a socket for long.
  server.requestTimeout = 10_000;
  server.listen(port, host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));

  return {
    port: (server.address() as AddressInfo).port,
    /** Stops listening and drops idle keep-alive connections (Prometheus keeps one per target). */
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
