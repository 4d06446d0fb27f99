import type { Child } from '../lib/child.ts';
import { waitFor } from '../lib/poll.ts';
import { redisAnswersPing, withoutPassword } from '../lib/redis.ts';
import { StackRequestError, type State } from './state.ts';
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
  /** Answers PING when it is ready: the admin user's URL. */
  url: string;
  /** Where the admin password is, for the status (which never shows a password). */
  adminPasswordFile: string;
  readyTimeoutMs: number;
};

/** One redis-server (a data node or a Sentinel), restarted on the same directory when asked. */
export function createRedisProcess(options: RedisOptions) {
  const { supervisor, name, redisServer, args, port, dir, url, adminPasswordFile, readyTimeoutMs } = options;
  let child: Child | undefined;
  let state: State = 'stopped';

  const status = () => ({
    name,
    port,
    pid: child?.isRunning() ? child.pid : undefined,
    state,
    url: withoutPassword(url),
    passwordFile: adminPasswordFile,
  });

  async function start() {
    if (child?.isRunning()) throw new StackRequestError(409, `${name} is already running (${state})`);
    state = 'starting';
    const started = supervisor.supervise(name, redisServer, args(), {
      cwd: dir,
      onExit: () => (state = 'crashed'),
    });
    child = started;
    await started.spawned;
    await waitFor(name, () => redisAnswersPing(url), {
      timeoutMs: readyTimeoutMs,
      failIf: supervisor.exitReason(started),
    });
    state = 'ready';
    return status();
  }

  async function kill() {
    if (child?.isRunning()) {
      await child.kill();
      state = 'killed';
    }
    return status();
  }

  function signal(sig: 'SIGSTOP' | 'SIGCONT', next: State) {
    if (!child?.isRunning()) throw new StackRequestError(409, `${name} is not running (${state})`);
    child.signal(sig);
    state = next;
    return status();
  }

  async function stop() {
    if (!child?.isRunning()) return;
    state = 'stopping';
    // A stopped (SIGSTOP) process cannot handle SIGTERM; resume it so it shuts down cleanly (AOF fsync).
    child.signal('SIGCONT');
    await child.stop('SIGTERM', 10_000);
    state = 'stopped';
  }

  return {
    name,
    port,
    isRunning: () => Boolean(child?.isRunning()),
    start,
    kill,
    pause: () => signal('SIGSTOP', 'paused'),
    resume: () => signal('SIGCONT', 'ready'),
    stop,
    status,
  };
}
