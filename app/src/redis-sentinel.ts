import { createClient, DisconnectsClientError, ErrorReply } from 'redis';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { createRedisConnection, type RedisConnection, tlsOptions, trustOf, withDeadline } from './redis.ts';
import { connectionSettings, type SessionConnection, type SessionRedis, sessionRedisOver } from './session-redis.ts';
import type { RedisTrust } from './redis-trust.ts';

type Sentinel = NonNullable<Config['redis']['sentinel']>;
type Address = { host: string; port: number };

/** How often the Sentinels are asked for the primary, in case a `+switch-master` message was missed. */
const POLL_INTERVAL_MS = 1000;

/**
 * How long after a failover is under way (a Sentinel chose the replica to promote: `+selected-slave`; or the primary
 * answered READONLY) a command may wait for the new primary and be sent again to it, instead of failing: a planned
 * switchover (infra/redis/switchover.sh) pauses writes for about a second. Beyond it, the 503 as for any outage.
 */
export const FAILOVER_WAIT_MS = 3000;

/**
 * Replies that say the command was not executed because this node is no longer the primary: a write (READONLY) or a
 * WAIT sent to a demoted primary. Sending it again to the new primary cannot apply it twice.
 */
const DEMOTED_REPLY = /^(READONLY\b|ERR WAIT cannot be used with replica)/;

/**
 * The app's session Redis behind Sentinels: it always talks to the current primary of the group, and only to it
 * (sessions are never read from replicas: a replica may still hold a session that was just logged out).
 *
 * Why not node-redis's own `createSentinel`: in node-redis 6.3 it pattern-subscribes to `switch-master` while Sentinels
 * publish `+switch-master`, so it learns of a failover only by polling, and then refuses the new primary while its
 * flags still read `disconnected`: measured 8-9 s from a SIGKILL to the first write. Here each Sentinel's
 * `+switch-master` message switches at once, and a poll every second catches a missed message.
 *
 * The app's modules hold one SessionRedis for their whole life, so its connection is a stand-in that sends each
 * command to the current primary's client: a switch replaces the connection underneath. Commands in flight on the old
 * one that it never executed (held by a planned switchover's CLIENT PAUSE, or refused as READONLY by the demoted node)
 * are sent again to the new primary within FAILOVER_WAIT_MS; the others fail (a 503 with Retry-After, as for any
 * outage) instead of landing on a demoted node. A command lost with its connection (a killed primary) is not sent
 * again: it may have been executed.
 */
export function createSentinelSessionRedis(
  config: Pick<Config, 'redis' | 'instanceId'>,
  log: Logger,
  /** Told the primary's address ("host:port") each time the client switches to one. */
  onPrimary: (address: string) => void = () => {},
  trust = trustOf(config),
): SessionRedis {
  const sentinel = config.redis.sentinel;
  if (!sentinel) throw new Error('createSentinelSessionRedis: config.redis.sentinel is not set');
  const sentinels = sentinel.nodes.map((node) => createSentinelConnection(config, sentinel, node, trust, log));
  const listeners: (() => void)[] = [];
  let primary: { address: Address; client: RedisConnection } | undefined;
  let switching: Promise<void> | undefined;
  let poller: NodeJS.Timeout | undefined;
  let closed = false;
  /** When the last failover was seen under way (performance.now()), for FAILOVER_WAIT_MS. */
  let failoverAt: number | undefined;
  /** Resolved at each switch to a new primary, then replaced. */
  let switched = Promise.withResolvers<void>();
  let connecting: RedisConnection | undefined;

  const urlOf = ({ host, port }: Address) => {
    const url = new URL(config.redis.url);
    url.hostname = host;
    url.port = String(port);
    return url.href;
  };
  const same = (a: Address | undefined, b: Address) => a?.host === b.host && a.port === b.port;

  /** The first Sentinel that answers names the primary. */
  async function askSentinels(): Promise<Address> {
    const problems: string[] = [];
    for (const connection of sentinels) {
      try {
        return await connection.primaryAddress();
      } catch (err) {
        problems.push(`${connection.label}: ${(err as Error).message}`);
      }
    }
    throw new Error(`no Sentinel named the primary "${sentinel!.name}": ${problems.join('; ')}`);
  }

  /** Connects to `address` and makes it the primary; the old connection is dropped once the new one is ready. */
  function switchTo(address: Address): Promise<void> {
    if (same(primary?.address, address) || closed) return Promise.resolve();
    switching ??= (async () => {
      const client = createRedisConnection(connectionSettings(config, urlOf(address), trust), log);
      for (const listener of listeners) client.on('reconnecting', listener);
      // Known to shut() while it connects: node-redis retries a first connection to a node that is down for as long
      // as it takes, so a client closed meanwhile must end this attempt too.
      connecting = client;
      try {
        await client.connect();
      } catch (err) {
        if (client.isOpen) client.destroy();
        throw err;
      } finally {
        connecting = undefined;
      }
      if (closed) {
        client.destroy();
        return;
      }
      const old = primary;
      primary = { address, client };
      const done = switched;
      switched = Promise.withResolvers<void>();
      done.resolve();
      log.info(
        { primary: `${address.host}:${address.port}`, previous: old && `${old.address.host}:${old.address.port}` },
        'redis primary',
      );
      onPrimary(`${address.host}:${address.port}`);
      old?.client.destroy();
    })().finally(() => (switching = undefined));
    return switching;
  }

  async function follow() {
    try {
      await switchTo(await askSentinels());
    } catch (err) {
      log.warn({ reason: (err as Error).message }, 'redis primary unknown');
    }
  }

  const failoverWindowLeft = () =>
    failoverAt === undefined ? 0 : Math.max(0, failoverAt + FAILOVER_WAIT_MS - performance.now());

  /** true once the primary is another than `from`; false if that takes longer than the failover window. */
  function switchedFrom(from: typeof primary): Promise<boolean> {
    if (primary !== from) return Promise.resolve(true);
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, failoverWindowLeft(), false)));
    return Promise.race([switched.promise.then(() => true), giveUp]).finally(() => clearTimeout(timer));
  }

  /**
   * A command that failed because its node stopped being the primary (DEMOTED_REPLY), or because this client dropped
   * that node's connection for the new primary's (commands held by the old primary's CLIENT PAUSE, never executed),
   * is sent once more to the new primary, within the failover window. Commands that failed in one pipeline (a write
   * and its WAIT) are sent again in the same order and tick, so the WAIT still covers the write.
   */
  function resendAfterSwitch<T>(err: unknown, sentTo: typeof primary, again: () => Promise<T>): Promise<T> {
    const demoted = err instanceof ErrorReply && DEMOTED_REPLY.test(err.message);
    const dropped = err instanceof DisconnectsClientError && primary !== sentTo;
    if (closed || !(demoted || dropped)) throw err;
    if (demoted && primary === sentTo) {
      // The first sign of a failover this client has (no Sentinel message yet, or none allowed by the ACL).
      if (failoverWindowLeft() === 0) failoverAt = performance.now();
      void follow();
    }
    if (primary !== sentTo) return again();
    return switchedFrom(sentTo).then((ok) => {
      if (!ok) throw err;
      return again();
    });
  }

  async function connect() {
    await switchTo(await askSentinels());
    for (const connection of sentinels) {
      void connection.onEvents({
        switched: (address) => void switchTo(address).catch(() => follow()),
        failoverStarted: () => (failoverAt = performance.now()),
      });
    }
    poller = setInterval(() => void follow(), POLL_INTERVAL_MS).unref();
  }

  /** Closes every connection it has; never rejects (destroy() does not wait for it). */
  async function shut(how: 'close' | 'destroy') {
    closed = true;
    clearInterval(poller);
    const clients = [...sentinels, ...(primary ? [primary.client] : []), ...(connecting ? [connecting] : [])];
    await Promise.allSettled(clients.map(async (client) => client[how]()));
  }

  /** `command` on the primary now; sent again to the next one if it failed for the switch (resendAfterSwitch). */
  function toPrimary<T>(command: (client: RedisConnection) => Promise<T>): Promise<T> {
    const sentTo = primary;
    if (!sentTo) return Promise.reject(new Error('no primary yet: the Sentinels have not named one'));
    return command(sentTo.client).catch((err: unknown) => resendAfterSwitch(err, sentTo, () => command(primary!.client)));
  }

  const connection: SessionConnection = {
    eval: (script, options) => toPrimary((client) => client.eval(script, options)),
    set: (key, value, options) => toPrimary((client) => client.set(key, value, options)),
    del: (key) => toPrimary((client) => client.del(key)),
    incr: (key) => toPrimary((client) => client.incr(key)),
    decr: (key) => toPrimary((client) => client.decr(key)),
    expire: (key, seconds, mode) => toPrimary((client) => client.expire(key, seconds, mode)),
    ttl: (key) => toPrimary((client) => client.ttl(key)),
    wait: (replicas, timeoutMs) => toPrimary((client) => client.wait(replicas, timeoutMs)),
    ping: () => toPrimary((client) => client.ping()),
    get isReady() {
      return primary?.client.isReady ?? false;
    },
    connect,
    close: () => shut('close'),
    destroy: () => void shut('destroy'),
    on(_event: 'reconnecting', listener: () => void) {
      listeners.push(listener);
      primary?.client.on('reconnecting', listener);
    },
  };
  return sessionRedisOver(connection, {
    commandTimeoutMs: config.redis.commandTimeoutMs,
    wait: config.redis.waitForReplicas,
    failoverGrace: () => {
      const left = failoverWindowLeft();
      return left > 0 ? left + config.redis.commandTimeoutMs : 0;
    },
  });
}

/** One Sentinel: a command connection to ask for the primary, and a subscriber for `+switch-master`. */
function createSentinelConnection(
  config: Pick<Config, 'redis' | 'instanceId'>,
  sentinel: Sentinel,
  node: Address,
  trust: RedisTrust,
  log: Logger,
) {
  const label = `${node.host}:${node.port}`;
  let lastError = '';
  const client = createClient({
    username: sentinel.username,
    password: sentinel.password,
    name: config.instanceId,
    disableOfflineQueue: true,
    maintNotifications: 'disabled',
    socket: {
      host: node.host,
      port: node.port,
      connectTimeout: config.redis.commandTimeoutMs * 2,
      reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 1000) + Math.floor(Math.random() * 100),
      ...tlsOptions(config.redis.url, trust),
    },
  });
  client.on('error', (err: Error) => {
    if (err.message !== lastError) log.warn({ sentinel: label, reason: err.message }, 'sentinel error');
    lastError = err.message;
  });
  client.on('ready', () => (lastError = ''));
  // The subscription is queued while this Sentinel is away, and node-redis renews it on every reconnect.
  const subscriber = client.duplicate({ disableOfflineQueue: false });
  subscriber.on('error', () => {});
  let connecting: Promise<unknown> | undefined;
  // Connected on first use; a Sentinel that is down now is retried by the client itself, in the background.
  const ensureConnected = () => (connecting ??= Promise.allSettled([client.connect(), subscriber.connect()]));

  return {
    label,
    async primaryAddress(): Promise<Address> {
      await ensureConnected();
      const reply = await withDeadline(
        client.sendCommand<[string, string] | null>(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', sentinel.name]),
        config.redis.commandTimeoutMs,
      );
      if (!reply) throw new Error(`does not monitor "${sentinel.name}"`);
      return { host: reply[0], port: Number(reply[1]) };
    },
    /**
     * `+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>`, and earlier in the same failover
     * `+promoted-slave slave <ip>:<port> <ip> <port> @ <name> …` (the replica the Sentinels promoted: already the
     * primary, which GET-MASTER-ADDR-BY-NAME names from then on) and before it `+selected-slave slave <ip>:<port> <ip>
     * <port> @ <name> …` (a failover with a replica to promote: not `+try-failover`, which a Sentinel also sends when
     * every node is down and there is nothing to wait for)
     * (https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/#pubsub-messages).
     */
    async onEvents(on: { switched: (address: Address) => void; failoverStarted: () => void }) {
      await ensureConnected();
      const listener = (message: string, channel: string) => {
        const words = message.split(' ');
        if (channel === '+switch-master' && words[0] === sentinel.name && words[3] && words[4])
          on.switched({ host: words[3], port: Number(words[4]) });
        if (channel === '+promoted-slave' && words[5] === sentinel.name && words[2] && words[3])
          on.switched({ host: words[2], port: Number(words[3]) });
        if (channel === '+selected-slave' && words[5] === sentinel.name) on.failoverStarted();
      };
      // One channel at a time: a Sentinel whose ACL predates the two early ones still sends +switch-master.
      for (const channel of ['+switch-master', '+promoted-slave', '+selected-slave'])
        await subscriber.subscribe(channel, listener).catch((err: Error) => {
          log.warn({ sentinel: label, channel, reason: err.message }, 'sentinel channel refused');
        });
    },
    close: () => Promise.allSettled([client.close(), subscriber.close()]),
    destroy: async () => {
      client.destroy();
      subscriber.destroy();
    },
  };
}
