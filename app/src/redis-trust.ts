import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

export type RedisTrust = ReturnType<typeof createRedisTrust>;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * What every Redis connection of this process verifies its server against: the CA certificates of REDIS_TLS_CA_FILE
 * (`pem`, as read at start), read again by reload() (server.ts: on SIGHUP), so a new CA can be rolled out while the
 * app serves (docs/operations.md, Rotating certificates). Connections already open keep their TLS session; every new
 * one (a reconnect, a new primary, a Sentinel, a cluster node) is verified against the certificates read last.
 * Without a file or `pem`, `ca` is undefined: Node's bundled public CAs. Without a file, nothing to reload.
 *
 * How a reload reaches connections: node-redis builds tls.connect()'s options once per client, copying `ca` by
 * reference (@redis/client socket.js, #createSocketFactory; duplicate() and a cluster's node clients copy options the
 * same way), and tls.connect() reads it at every connection. So `ca` is one array, handed to every client and replaced
 * in place. app/test/integration/redis-trust.test.ts fails if a node-redis upgrade starts copying it.
 */
export function createRedisTrust(file: string | undefined, pem: string | undefined) {
  const ca: string[] = pem === undefined ? [] : [pem];
  return {
    ca: file === undefined && pem === undefined ? undefined : ca,
    /**
     * Reads the file again and trusts what it holds from the next connection on. A file that cannot be read or holds
     * no valid certificate throws, and the certificates trusted so far stay. → what is trusted now.
     */
    reload(): { certificates: { subject: string; validTo: string; fingerprint256: string }[] } {
      if (file === undefined) throw new Error('REDIS_TLS_CA_FILE is not set: Node’s public CAs are trusted, nothing to reload');
      const text = readFileSync(file, 'utf8');
      const certificates = (text.match(PEM_CERTIFICATE) ?? []).map((block) => new X509Certificate(block));
      if (certificates.length === 0) throw new Error(`no PEM certificate in ${file}`);
      ca.splice(0, ca.length, text);
      return {
        certificates: certificates.map(({ subject, validTo, fingerprint256 }) => ({ subject, validTo, fingerprint256 })),
      };
    },
  };
}
