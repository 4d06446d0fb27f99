import { chmodSync, mkdirSync } from 'node:fs';
import { redisAnswersPing, redisUrl, withoutPassword } from '../lib/redis.ts';
import type { Secrets } from '../lib/secrets.ts';
import { StackRequestError } from './state.ts';
import { createSupervisedProcess } from './supervised-process.ts';
import type { Supervisor } from './supervisor.ts';

type RedisOptions = {
  supervisor: Supervisor;
  /** How the stack's log and status name it: redis, redis-2, sentinel-1... */
  name: string;
  redisServer: string;
  /** redis-server's arguments, asked at every start (a node's config is rendered on its first start only). */
  args: () => string[];
  port: number;
  /** Its working directory: the AOF lives here, so a restart finds what was written. */
  dir: string;
  /** Answers PING when it is ready: the admin user's URL (a function: asked at each start, after a rotation too). */
  url: string | (() => string);
  /** Where the admin password is, for the status (which never shows a password). */
  adminPasswordFile: string;
  readyTimeoutMs: number;
  /** Ready when this holds; default: the admin user's PING on `url` (memcached nodes bring their own probe). */
  isReady?: () => Promise<boolean>;
};

/** What the session Redis is built from, whatever its topology (redis-topology.ts, redis-cluster-topology.ts). */
export type TopologyOptions = {
  supervisor: Supervisor;
  redisServer: string;
  /** The first data node's port; the others follow it. */
  port: number;
  /** Each process gets its own directory under it (redis-1/, sentinel-1/, cluster-1/...). */
  dir: string;
  aclFile: string;
  secrets: Secrets;
  readyTimeoutMs: number;
  /**
   * Sentinel i connects from 127.0.2.i (and listens there too), so firewall rules can tell its links from the apps'
   * (the partition suite, tools/chaos/partitions.ts). Off by default: elsewhere every process connects from 127.0.0.1.
   */
  sentinelSources?: boolean;
};

/**
 * redis-server under umask 077: Redis writes its files (AOF, RDB, and the config CONFIG REWRITE or a Sentinel
 * rewrites after a failover, with masterauth and auth-pass in it) with the process umask, so with the usual 022
 * every local user could read the passwords and the sessions.
 */
export const redisUnderUmask = (redisServer: string, args: string[]): [string, string[]] => [
  'sh',
  ['-c', 'umask 077 && exec "$0" "$@"', redisServer, ...args],
];

/** One redis-server (a data node or a Sentinel), restarted on the same directory when asked. */
export function createRedisProcess(options: RedisOptions) {
  const { supervisor, name, redisServer, args, port, dir, adminPasswordFile, readyTimeoutMs } = options;
  const url = () => (typeof options.url === 'string' ? options.url : options.url());
  // SIGTERM: Redis fsyncs its AOF and exits.
  const lifecycle = createSupervisedProcess({
    supervisor,
    name,
    readyTimeoutMs,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 10_000,
    quiet: true,
  });

  const status = () => ({
    name,
    port,
    pid: lifecycle.pid(),
    state: lifecycle.state(),
    url: withoutPassword(url()),
    passwordFile: adminPasswordFile,
  });

  return {
    name,
    port,
    isRunning: lifecycle.isRunning,
    async start() {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
      const [command, commandArgs] = redisUnderUmask(redisServer, args());
      await lifecycle.start({ command, args: commandArgs, cwd: dir, ready: options.isReady ?? (() => redisAnswersPing(url())) });
      return status();
    },
    async kill() {
      await lifecycle.kill();
      return status();
    },
    pause() {
      lifecycle.pause();
      return status();
    },
    resume() {
      lifecycle.resume();
      return status();
    },
    stop: async () => void (await lifecycle.stop()),
    status,
  };
}

export type RedisProcess = ReturnType<typeof createRedisProcess>;

/**
 * One of the stack's TLS redis-servers (a session node, a Sentinel, a cluster node, the cache) in its own directory,
 * ready when its admin user's PING answers; the password is read from the secrets at each start (after a rotation too).
 */
export function createStackRedisProcess(
  options: Pick<RedisOptions, 'supervisor' | 'name' | 'redisServer' | 'args' | 'port' | 'dir' | 'readyTimeoutMs'> & {
    secrets: Secrets;
  },
) {
  const { secrets, port } = options;
  return createRedisProcess({
    ...options,
    url: () => redisUrl('admin', secrets.redisAdminPassword, port, { tls: true }),
    adminPasswordFile: secrets.redisAdminPasswordFile,
  });
}

/**
 * The control API's actions on every data node of a topology (a whole-Redis outage and its end): each acts on the
 * nodes in a state for it (409 when none is) and answers the topology's status. `frozenWith` (the Sentinels) are
 * paused and resumed with the nodes: left running, a freeze longer than their down-after-milliseconds lets them start
 * a failover onto a replica that is frozen too, which cannot complete, so a whole-group freeze would answer as a
 * half-started failover does (redis-sentinel.ts's FAILOVER_WAIT_MS) or as a frozen Redis does, depending on timing.
 */
export function wholeRedisActions<Status>(nodes: RedisProcess[], status: () => Status, frozenWith: RedisProcess[] = []) {
  const eachNode = async (action: (node: RedisProcess) => unknown, when: (node: RedisProcess) => boolean) => {
    const acted = nodes.filter(when);
    if (acted.length === 0) throw new StackRequestError(409, 'no data node is in a state for that');
    await Promise.all(acted.map(action));
    return status();
  };
  const running = (node: RedisProcess) => node.isRunning();
  return {
    kill: () => eachNode((node) => node.kill(), running),
    startNodes: () =>
      eachNode(
        (node) => node.start(),
        (node) => !node.isRunning(),
      ),
    async pause() {
      await eachNode((node) => node.pause(), running);
      await Promise.all(frozenWith.filter(running).map((process) => process.pause()));
      return status();
    },
    async resume() {
      await eachNode((node) => node.resume(), running);
      await Promise.all(frozenWith.filter(running).map((process) => process.resume()));
      return status();
    },
    /** Resumes every paused node: the primary that was paused may no longer be the primary. */
    resumePaused: () =>
      eachNode(
        (node) => node.resume(),
        (node) => node.status().state === 'paused',
      ),
  };
}

/** A node's role as INFO/ROLE names it, in this project's words. */
export const roleName = (role: string) => (role === 'master' ? 'primary' : role === 'slave' ? 'replica' : role);
