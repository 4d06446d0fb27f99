import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeExit, startChild, type Child, type ExitInfo } from '../lib/child.ts';
import { DEFAULT_DEMO_USERS, parseUsers } from '../lib/demo-users.ts';
import { isHttpOk } from '../lib/http.ts';
import { repoRoot, runPaths } from '../lib/paths.ts';
import { waitFor } from '../lib/poll.ts';
import { assertPortsFree } from '../lib/ports.ts';
import { findTools } from '../lib/prereqs.ts';
import { redisAnswersPing, redisUrl } from '../lib/redis.ts';
import { redisArgs, renderAcl } from '../lib/redis-server.ts';
import { ensureSecrets } from '../lib/secrets.ts';
import { createPidRegistry, stopLeftovers } from './leftovers.ts';
import { createFifoOutput, localListen, nginxArgs, renderLocalUpstream, writeNginxConfDir } from './nginx.ts';

export type StackOptions = {
  /** Number of app instances (default 3): INSTANCE_ID app-1..N on ports appBasePort+1.. */
  instances?: number;
  nginxPort?: number;
  redisPort?: number;
  appBasePort?: number;
  /** Runtime files (secrets, AOF, nginx prefix); default `.run/` at the repository root. */
  runDir?: string;
  /** The app's entry point; default app/src/server.ts. */
  appEntry?: string;
  /** Passed through to every instance (default process.env); the stack's own settings win. */
  env?: NodeJS.ProcessEnv;
  /** Receives every line: the stack's own (`[stack] ...`) and the children's (`[app-1] ...`). */
  print?: (line: string) => void;
  readyTimeoutMs?: number;
  /** SIGTERM grace before SIGKILL; above the app's SHUTDOWN_TIMEOUT_MS default (10s). */
  appStopTimeoutMs?: number;
};

/**
 * A `print` for tools that boot a stack of their own (bench, chaos): every line goes to `<runDir>/stack.log`,
 * only the runner's own `[stack]` lines to the console.
 */
export function printToStackLog(runDir: string) {
  mkdirSync(runDir, { recursive: true });
  const logFile = createWriteStream(join(runDir, 'stack.log'));
  return (line: string) => {
    logFile.write(`${line}\n`);
    if (line.startsWith('[stack]')) console.log(line);
  };
}

/** A control request that cannot be served as asked; `status` is the HTTP status the control API answers. */
export class StackRequestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

type State = 'starting' | 'ready' | 'paused' | 'stopping' | 'stopped' | 'killed' | 'crashed';

/**
 * Starts redis-server, N app instances and nginx from the shipped infra files, waits until nginx answers
 * /readyz with 200, and returns a handle to inspect, break and repair the stack, and to stop it.
 * On a failed start, whatever was started is stopped before the error is thrown.
 */
export async function startStack(options: StackOptions = {}) {
  const {
    instances: count = 3,
    nginxPort = 8080,
    redisPort = 6380,
    appBasePort = 3000,
    appEntry = join(repoRoot, 'app/src/server.ts'),
    env = process.env,
    print = (line: string) => console.log(line),
    readyTimeoutMs = 30_000,
    appStopTimeoutMs = 15_000,
  } = options;
  if (!Number.isInteger(count) || count < 1 || count > 50) throw new Error(`instances: expected 1..50, got ${count}`);
  const log = (message: string) => print(`[stack] ${message}`);
  const paths = runPaths(options.runDir);
  const tools = findTools();

  for (const line of await stopLeftovers(paths.pidsFile)) log(line);
  const appPorts = Array.from({ length: count }, (_, i) => appBasePort + i + 1);
  await assertPortsFree([
    { port: nginxPort, what: 'nginx' },
    { port: redisPort, what: 'redis' },
    ...appPorts.map((port, i) => ({ port, what: `app-${i + 1}` })),
  ]);

  for (const dir of [paths.runDir, paths.redis, paths.nginx]) mkdirSync(dir, { recursive: true });
  const secrets = ensureSecrets(paths.secrets);
  const aclFile = join(paths.redis, 'users.acl');
  renderAcl(secrets.dir, aclFile, tools.redisServer);
  const registry = createPidRegistry(paths.pidsFile);
  const demoUsers = env.DEMO_USERS || DEFAULT_DEMO_USERS;
  const urls = {
    nginx: `http://127.0.0.1:${nginxPort}`,
    redisApp: redisUrl('app', secrets.redisAppPassword, redisPort),
    redisAdmin: redisUrl('admin', secrets.redisAdminPassword, redisPort),
  };

  /** Starts a child, records it for leftover cleanup, reports an unexpected exit (never restarts). */
  type SuperviseOptions = {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    stdout?: ReturnType<typeof createFifoOutput>;
    onExit: () => void;
  };
  const supervise = async (name: string, command: string, args: string[], extra: SuperviseOptions) => {
    const child = startChild({
      name,
      command,
      args,
      env: extra.env ?? process.env,
      cwd: extra.cwd ?? repoRoot,
      ...(extra.stdout ? { stdout: extra.stdout } : {}),
      print,
      onUnexpectedExit: (info: ExitInfo) => {
        log(`${name} exited unexpectedly (${describeExit(info)}); it is not restarted`);
        extra.onExit();
      },
    });
    void child.exited.then(() => registry.remove(name));
    await child.spawned;
    registry.add(name, child.pid);
    return child;
  };
  const exitReason = (child: Child) => () => {
    const info = child.exitInfo();
    return info && `exited during start (${describeExit(info)})`;
  };

  // Redis: one process, restarted on the same AOF directory when asked.
  const redis = { child: undefined as Child | undefined, state: 'stopped' as State };
  async function startRedis() {
    if (redis.child?.isRunning()) throw new StackRequestError(409, `redis is already running (${redis.state})`);
    redis.state = 'starting';
    const child = await supervise(
      'redis',
      tools.redisServer,
      redisArgs({ port: redisPort, dir: paths.redis, aclfile: aclFile }),
      {
        cwd: paths.redis,
        onExit: () => (redis.state = 'crashed'),
      },
    );
    redis.child = child;
    await waitFor('redis', () => redisAnswersPing(urls.redisApp), { timeoutMs: readyTimeoutMs, failIf: exitReason(child) });
    redis.state = 'ready';
    return redisStatus();
  }
  async function killRedis() {
    if (redis.child?.isRunning()) {
      await redis.child.kill();
      redis.state = 'killed';
    }
    return redisStatus();
  }
  function signalRedis(signal: 'SIGSTOP' | 'SIGCONT', state: State) {
    if (!redis.child?.isRunning()) throw new StackRequestError(409, `redis is not running (${redis.state})`);
    redis.child.signal(signal);
    redis.state = state;
    return redisStatus();
  }
  async function stopRedis() {
    if (!redis.child?.isRunning()) return;
    redis.state = 'stopping';
    // A stopped (SIGSTOP) process cannot handle SIGTERM; resume it so it shuts down cleanly (AOF fsync).
    redis.child.signal('SIGCONT');
    await redis.child.stop('SIGTERM', 10_000);
    redis.state = 'stopped';
  }
  const redisStatus = () => ({
    port: redisPort,
    pid: redis.child?.isRunning() ? redis.child.pid : undefined,
    state: redis.state,
    url: urls.redisAdmin,
    appUrl: urls.redisApp,
  });

  // App instances app-1..N: the same entry point, each with its port and INSTANCE_ID.
  const instances = appPorts.map((port, i) => ({
    n: i + 1,
    id: `app-${i + 1}`,
    port,
    child: undefined as Child | undefined,
    state: 'stopped' as State,
  }));
  const instance = (n: number) => {
    const found = instances.find((candidate) => candidate.n === n);
    if (!found) throw new StackRequestError(404, `no instance ${n} (instances are 1..${count})`);
    return found;
  };
  function instanceEnv(port: number, id: string, overrides: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const inherited = { ...env };
    // The stack provides the Redis credentials; inherited variants would conflict with them.
    for (const name of ['REDIS_PASSWORD', 'REDIS_PASSWORD_FILE', 'SESSION_SECRET_FILE']) delete inherited[name];
    const merged: NodeJS.ProcessEnv = {
      ...inherited,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      INSTANCE_ID: id,
      TRUST_PROXY: '1',
      // The same shape as compose: user in the URL, passwords and secrets in files.
      REDIS_URL: `redis://app@127.0.0.1:${redisPort}`,
      REDIS_PASSWORD_FILE: secrets.redisAppPasswordFile,
      SESSION_SECRET_FILE: secrets.sessionSecretFile,
      ALLOW_DEMO_USERS: 'true',
      DEMO_USERS: demoUsers,
      ...overrides,
    };
    // A SESSION_SECRET from the caller (or a restart override, e.g. to test rotation) replaces the generated one.
    if (merged.SESSION_SECRET) delete merged.SESSION_SECRET_FILE;
    return merged;
  }
  async function startInstance(n: number, { env: overrides = {} }: { env?: NodeJS.ProcessEnv } = {}) {
    const target = instance(n);
    if (target.child?.isRunning()) throw new StackRequestError(409, `${target.id} is already running (${target.state})`);
    target.state = 'starting';
    const child = await supervise(target.id, process.execPath, [appEntry], {
      env: instanceEnv(target.port, target.id, overrides),
      onExit: () => (target.state = 'crashed'),
    });
    target.child = child;
    await waitFor(target.id, () => isHttpOk(`http://127.0.0.1:${target.port}/readyz`), {
      timeoutMs: readyTimeoutMs,
      failIf: exitReason(child),
    });
    target.state = 'ready';
    return instanceStatus(target);
  }
  async function stopInstance(n: number) {
    const target = instance(n);
    if (target.child?.isRunning()) {
      target.state = 'stopping';
      const info = await target.child.stop('SIGTERM', appStopTimeoutMs);
      if (info.code !== 0) log(`${target.id} stopped with ${describeExit(info)}`);
      target.state = 'stopped';
    }
    return instanceStatus(target);
  }
  async function killInstance(n: number) {
    const target = instance(n);
    if (target.child?.isRunning()) {
      await target.child.kill();
      target.state = 'killed';
    }
    return instanceStatus(target);
  }
  async function restartInstance(n: number, startOptions: { env?: NodeJS.ProcessEnv } = {}) {
    await stopInstance(n);
    return startInstance(n, startOptions);
  }
  const instanceStatus = (target: (typeof instances)[number]) => ({
    n: target.n,
    id: target.id,
    port: target.port,
    url: `http://127.0.0.1:${target.port}`,
    pid: target.child?.isRunning() ? target.child.pid : undefined,
    state: target.state,
  });

  // nginx: the shipped config with an upstream listing the instances.
  const nginx = { child: undefined as Child | undefined, state: 'stopped' as State };
  async function startNginx() {
    const confFile = writeNginxConfDir({
      confDir: join(paths.nginx, 'conf'),
      upstream: renderLocalUpstream(appPorts.map((port) => `127.0.0.1:${port}`)),
      listen: localListen(nginxPort),
    });
    nginx.state = 'starting';
    const stdout = createFifoOutput(join(paths.nginx, 'stdout.fifo'));
    const child = await supervise('nginx', tools.nginx, nginxArgs({ prefix: paths.nginx, confFile }), {
      stdout,
      onExit: () => (nginx.state = 'crashed'),
    }).finally(stdout.closeWriteEnd);
    nginx.child = child;
    await waitFor('nginx', () => isHttpOk(`${urls.nginx}/readyz`), { timeoutMs: readyTimeoutMs, failIf: exitReason(child) });
    nginx.state = 'ready';
  }
  async function stopNginx() {
    if (!nginx.child?.isRunning()) return;
    nginx.state = 'stopping';
    // SIGQUIT: graceful, in-flight requests finish.
    await nginx.child.stop('SIGQUIT', 5_000);
    nginx.state = 'stopped';
  }

  // The whole stack: started back to front, stopped front to back.
  let stopping: Promise<void> | undefined;
  /** Front to back: nginx stops taking requests, the apps drain, then Redis writes its AOF and exits. */
  function stop() {
    stopping ??= (async () => {
      log('stopping');
      await stopNginx();
      await Promise.all(instances.map((target) => stopInstance(target.n)));
      await stopRedis();
      registry.clear();
      log('stopped');
    })();
    return stopping;
  }
  // Last resort if the runner dies from an exception: no orphan keeps a port.
  const killAll = () => {
    for (const child of [nginx.child, ...instances.map((target) => target.child), redis.child]) child?.signal('SIGKILL');
  };
  process.once('exit', killAll);

  const status = () => ({
    nginx: { url: urls.nginx, port: nginxPort, pid: nginx.child?.isRunning() ? nginx.child.pid : undefined, state: nginx.state },
    redis: redisStatus(),
    instances: instances.map(instanceStatus),
    demoUsers: parseUsers(demoUsers).map((user) => user.username),
    runDir: paths.runDir,
  });

  try {
    log(`starting redis on 127.0.0.1:${redisPort}`);
    await startRedis();
    log(`starting ${count} app instance(s) on ports ${appPorts.join(', ')}`);
    await Promise.all(instances.map((target) => startInstance(target.n)));
    log(`starting nginx on 127.0.0.1:${nginxPort}`);
    await startNginx();
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    urls,
    demoUsers,
    status,
    startInstance,
    stopInstance,
    killInstance,
    restartInstance,
    startRedis,
    killRedis,
    pauseRedis: () => signalRedis('SIGSTOP', 'paused'),
    resumeRedis: () => signalRedis('SIGCONT', 'ready'),
    stop,
  };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;
