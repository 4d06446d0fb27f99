import { createServer } from 'node:net';

/**
 * A port nothing listens on right now (127.0.0.1), chosen at random below the kernel's ephemeral range (32768..): a
 * port the kernel hands out itself (listen on 0) may be given next to an outgoing connection before the server binds it.
 */
export async function freePort(): Promise<number> {
  return freePortBase([0], 10_000, 32_000);
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

/**
 * A base port in [from, to) whose `offsets` are all free, chosen at random; for servers that take ports relative to a
 * base (the stack: Redis +0..2, Sentinels +10..12, the cache +20, PostgreSQL +30). Keep `to` below the kernel's
 * ephemeral range (32768..): there an outgoing connection may take one of the ports between the check and the bind.
 */
export async function freePortBase(offsets: number[], from: number, to: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = from + Math.floor(Math.random() * (to - from));
    if ((await Promise.all(offsets.map((offset) => isPortFree(base + offset)))).every(Boolean)) return base;
  }
  throw new Error(`no base port in ${from}..${to} with ${offsets.join(', ')} free`);
}
