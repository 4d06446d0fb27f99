import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';

/** A port nothing listens on right now, chosen by the kernel (127.0.0.1). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** True when nothing listens on 127.0.0.1:port (binding there also fails if 0.0.0.0:port is taken). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws one message naming every taken port and how to find its holder. */
export async function assertPortsFree(ports: { port: number; what: string }[]): Promise<void> {
  const taken: string[] = [];
  for (const { port, what } of ports) {
    if (!(await isPortFree(port)))
      taken.push(`  port ${port} (${what}) is in use; find the holder with: ss -ltnp 'sport = :${port}'`);
  }
  if (taken.length > 0) throw new Error(`Ports already in use:\n${taken.join('\n')}`);
}
