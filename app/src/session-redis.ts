import type { Config } from './config.ts';
import { ServiceUnavailableError } from './errors.ts';
import type { Logger } from './log.ts';
import { createRedisConnection, trustOf, withDeadline } from './redis.ts';
import type { RedisTrust } from './redis-trust.ts';

/** The commands the app sends to its session Redis: what `run` and a write's callback are handed (SessionRedis). */
export type RedisCommands = {
  eval(script: string, options: { keys: string[]; arguments?: string[] }): Promise<unknown>;
  set(
    key: string,
    value: string,
    options: { expiration: { type: 'EX'; value: number }; condition: 'NX' | 'XX' },
  ): Promise<string | null>;
  del(key: string): Promise<number>;
  incr(key: string): Promise<number>;
  decr(key: string): Promise<number>;
  expire(key: string, seconds: number, mode: 'NX'): Promise<number>;
  ttl(key: string): Promise<number>;
};

/** The commands on a connection to one server, with the WAIT that follows a write on it (writeAndWait). */
export type ServerCommands = RedisCommands & { wait(replicas: number, timeoutMs: number): Promise<number> };

/** What a topology's factory wraps (sessionRedisOver): the commands, and the connection's life. */
export type SessionConnection = ServerCommands & {
  readonly isReady: boolean;
  ping(): Promise<string>;
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): void;
  on(event: 'reconnecting', listener: () => void): unknown;
};

/** How many replicas must confirm a write, and how long to wait for them (replicas 0: no WAIT). */
export type ReplicaWait = { replicas: number; timeoutMs: number };

/** The keys of a write: the first is the write's own (all its keys share that one's slot), then any others it needs. */
export type WriteKeys = readonly [string, ...string[]];

/** No WAIT: a single server, or REDIS_WAIT_REPLICAS=0. */
export const NO_WAIT: ReplicaWait = { replicas: 0, timeoutMs: 0 };

/**
 * The session Redis as the app uses it, whatever the topology: the commands it sends (RedisCommands), each call bounded
 * by the command deadline and failing as asHttpError maps it (a 503 with Retry-After when Redis is away, slow or says
 * "not now"), so no caller can forget either. Built by one factory per topology: createSessionRedis (one server),
 * createSentinelSessionRedis (redis-sentinel.ts) and createClusterSessionRedis (redis-cluster.ts), each wrapping its
 * `connection` here and saying what differs: a failover's grace (Sentinel), the connection that takes a key's writes
 * (a cluster's shard), how to PING.
 */
export function sessionRedisOver(
  connection: SessionConnection,
  {
    commandTimeoutMs,
    wait,
    failoverGrace = () => 0,
    writerOf = async () => connection,
  }: {
    commandTimeoutMs: number;
    /** How many replicas confirm a write that must outlive a failover, and how long to wait for them. */
    wait: ReplicaWait;
    /** The ms a command past its deadline may still wait: a failover is under way (redis-sentinel.ts). */
    failoverGrace?: () => number;
    /** The connection to the server that takes `key`'s writes now (a cluster's shard); the connection itself otherwise. */
    writerOf?: (key: string) => Promise<ServerCommands>;
  },
) {
  const bounded = <T>(command: Promise<T>, ms = commandTimeoutMs) => withDeadline(command, ms, failoverGrace);

  /**
   * A write, then WAIT in the same pipeline. WAIT counts the replicas that have every write of *its connection* so
   * far, so it must follow the write on the connection that took it: `write` is sent on the connection to the server
   * that takes `keys[0]`'s writes (writerOf), and WAIT right behind it, both in one tick (node-redis queues a
   * connection's commands in order and writes a tick's worth in one go, after the tick: a connection lost meanwhile
   * fails both, never one of them). Every further key of `keys` (one written earlier, which may live on another shard)
   * gets a WAIT on its own server's connection in the same tick, and the smallest count is the answer: every key's
   * write must be on a replica. → the write's reply and that count; with `wait.replicas` 0, no WAIT and 0.
   */
  async function writeAndWait<T>(write: (on: RedisCommands) => Promise<T>, keys: WriteKeys): Promise<[T, number]> {
    if (wait.replicas === 0) return [await bounded(write(connection)), 0];
    const sent = async (): Promise<[T, number[]]> => {
      const writers = await Promise.all(keys.map(writerOf));
      // Nothing is awaited between the write and its WAITs: they share a tick.
      const reply = write(writers[0]!);
      return Promise.all([reply, Promise.all([...new Set(writers)].map((writer) => writer.wait(wait.replicas, wait.timeoutMs)))]);
    };
    const [reply, acknowledged] = await bounded(sent(), commandTimeoutMs + wait.timeoutMs);
    return [reply, Math.min(...acknowledged)];
  }

  return {
    /**
     * What `commands` sends (in one tick: one pipeline), awaited within the command deadline. A command whose reply
     * never came may have been executed.
     */
    async run<T>(commands: (on: RedisCommands) => Promise<T>): Promise<T> {
      return bounded(commands(connection));
    },
    writeAndWait,
    /**
     * A write that must outlive a failover (the end of a session): done only once `wait.replicas` replicas have it.
     * Otherwise a 503 with Retry-After, never a success: the primary has the write, but a failover now could promote a
     * replica that does not, and undo it. Retrying is safe; the retry's WAIT covers the earlier write too (WAIT waits
     * for the replication offset, which has moved past it).
     */
    async replicatedWrite<T>(write: (on: RedisCommands) => Promise<T>, keys: WriteKeys): Promise<T> {
      const [reply, acknowledged] = await writeAndWait(write, keys);
      if (acknowledged < wait.replicas)
        throw new ServiceUnavailableError(
          new Error(`${acknowledged} of ${wait.replicas} replicas confirmed in ${wait.timeoutMs} ms`),
        );
      return reply;
    },
    /** How many replicas a write waits for (WAIT), as configured. */
    wait,
    /** Connected and answering PING within `timeoutMs` (/readyz). */
    async isAnswering(timeoutMs: number): Promise<boolean> {
      if (!connection.isReady) return false;
      try {
        return (await withDeadline(connection.ping(), timeoutMs)) === 'PONG';
      } catch {
        return false;
      }
    },
    get isReady() {
      return connection.isReady;
    },
    on(event: 'reconnecting', listener: () => void) {
      connection.on(event, listener);
    },
    connect: async () => void (await connection.connect()),
    close: async () => void (await connection.close()),
    destroy: () => connection.destroy(),
  };
}

export type SessionRedis = ReturnType<typeof sessionRedisOver>;

/** A session server's connection: named after the instance, a connection attempt bounded by twice the command deadline. */
export const connectionSettings = (config: Pick<Config, 'redis' | 'instanceId'>, url: string, trust: RedisTrust) => ({
  url,
  name: config.instanceId,
  connectTimeoutMs: config.redis.commandTimeoutMs * 2,
  trust,
});

/** The session Redis on one server (REDIS_URL): no Sentinel, no cluster. */
export function createSessionRedis(config: Pick<Config, 'redis' | 'instanceId'>, log: Logger, trust = trustOf(config)) {
  return sessionRedisOver(createRedisConnection(connectionSettings(config, config.redis.url, trust), log), {
    commandTimeoutMs: config.redis.commandTimeoutMs,
    wait: config.redis.waitForReplicas ?? NO_WAIT,
  });
}
