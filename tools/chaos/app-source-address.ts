import { syncBuiltinESMExports } from 'node:module';
import tls from 'node:tls';

// Preloaded into each app instance by the partition suite only (NODE_OPTIONS=--import, tools/chaos/partitions.ts),
// never by a deployment: instance app-N opens its Redis connections (TLS: data nodes and Sentinels) from
// 127.0.3.N, so iptables rules in the suite's namespace can cut the links of some instances and not the others'.
// A harness-side patch rather than an app setting: no production setting exists only for a test, and node-redis's
// sockets all go through tls.connect, read at call time. Any 127.x address is local on Linux.

/** The address instance `app-N` connects from. */
export const appSourceOf = (n: number) => `127.0.3.${n}`;

const n = Number(/^app-(\d+)$/.exec(process.env.INSTANCE_ID ?? '')?.[1]);
if (Number.isInteger(n) && n > 0) {
  const connect = tls.connect;
  const localAddress = appSourceOf(n);
  // node-redis calls tls.connect(options); any other form is passed on untouched.
  const patched = (options: unknown, ...rest: unknown[]) =>
    (connect as (...args: unknown[]) => tls.TLSSocket)(
      typeof options === 'object' && options !== null && !('localAddress' in options) ? { ...options, localAddress } : options,
      ...rest,
    );
  tls.connect = patched as typeof tls.connect;
  syncBuiltinESMExports();
}
