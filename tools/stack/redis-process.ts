import type { Child } from '../lib/child.ts';
import { waitFor } from '../lib/poll.ts';
import { redisAnswersPing, withoutPassword } from '../lib/redis.ts';
import { redisArgs } from '../lib/redis-server.ts';
import { StackRequestError, type State } from './state.ts';
import type { Supervisor } from './supervisor.ts';

type RedisOptions = {
  supervisor: Supervisor;
  redisServer: string;
  port: number;
  /** Its working directory: the AOF lives here, so a restart finds what was written. */
  dir: string;
  aclFile: string;
  urls: { app: string; admin: string };
  /** Where the admin password is, for the status (which never shows a password). */
  adminPasswordFile: string;
  readyTimeoutMs: number;
};

/** One redis-server, restarted on the same AOF directory when asked. */
export function createRedisProcess(options: RedisOptions) {
  const { supervisor, redisServer, port, dir, aclFile, urls, adminPasswordFile, readyTimeoutMs } = options;
  let child: Child | undefined;
  let state: State = 'stopped';

  const status = () => ({
    port,
    pid: child?.isRunning() ? child.pid : undefined,
    state,
    url: withoutPassword(urls.admin),
    passwordFile: adminPasswordFile,
  });

  async function start() {
    if (child?.isRunning()) throw new StackRequestError(409, `redis is already running (${state})`);
    state = 'starting';
    const started = supervisor.supervise('redis', redisServer, redisArgs({ port, dir, aclfile: aclFile }), {
      cwd: dir,
      onExit: () => (state = 'crashed'),
    });
    child = started;
    await started.spawned;
    await waitFor('redis', () => redisAnswersPing(urls.app), {
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
    if (!child?.isRunning()) throw new StackRequestError(409, `redis is not running (${state})`);
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
    start,
    kill,
    pause: () => signal('SIGSTOP', 'paused'),
    resume: () => signal('SIGCONT', 'ready'),
    stop,
    status,
  };
}
