import { connect } from 'node:tls';

/** Whether a client trusting `ca` alone completes a TLS handshake with the server on 127.0.0.1:`port` within `timeoutMs`. */
export const completesHandshake = (port: number, ca: string, timeoutMs = 2_000) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, timeout: timeoutMs }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => socket.destroy(new Error('timeout')));
  });
