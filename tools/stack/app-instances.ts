import { describeExit } from '../lib/child.ts';
import { isHttpOk } from '../lib/http.ts';
import { waitFor } from '../lib/poll.ts';
import type { Secrets } from '../lib/secrets.ts';
import { allowedEnv } from './control-auth.ts';
import { StackRequestError } from './state.ts';
import { createSupervisedProcess } from './supervised-process.ts';
import type { Supervisor } from './supervisor.ts';

type InstancesOptions = {
  supervisor: Supervisor;
  count: number;
  appBasePort: number;
  appEntry: string;
  /** Passed through to every instance; the stack's own settings win. */
  env: NodeJS.ProcessEnv;
  /** Where the app's dependencies are: REDIS_URL and the rest of the Redis topology's settings, the catalogue's. */
  servicesEnv: NodeJS.ProcessEnv;
  secrets: Secrets;
  demoUsers: string;
  readyTimeoutMs: number;
  appStopTimeoutMs: number;
  log: (message: string) => void;
};

type Instance = {
  n: number;
  id: string;
  port: number;
  metricsPort: number;
  lifecycle: ReturnType<typeof createSupervisedProcess>;
};

/** Instance n serves its metrics on appBasePort + METRICS_PORT_OFFSET + n (3051.. beside the apps' 3001..). */
export const METRICS_PORT_OFFSET = 50;

/** A signal and a file read: well under a second, unless the machine is very busy. */
const RELOAD_TIMEOUT_MS = 10_000;

/** App instances app-1..N: the same entry point, each with its port and INSTANCE_ID. */
export function createAppInstances(options: InstancesOptions) {
  const {
    supervisor,
    count,
    appBasePort,
    appEntry,
    env,
    servicesEnv,
    secrets,
    demoUsers,
    readyTimeoutMs,
    appStopTimeoutMs,
    log,
  } = options;
  const instances: Instance[] = Array.from({ length: count }, (_, i) => ({
    n: i + 1,
    id: `app-${i + 1}`,
    port: appBasePort + i + 1,
    metricsPort: appBasePort + METRICS_PORT_OFFSET + i + 1,
    // SIGTERM: the app drains (server.ts) within its SHUTDOWN_TIMEOUT_MS.
    lifecycle: createSupervisedProcess({
      supervisor,
      name: `app-${i + 1}`,
      readyTimeoutMs,
      stopSignal: 'SIGTERM',
      stopTimeoutMs: appStopTimeoutMs,
    }),
  }));

  const instance = (n: number) => {
    const found = instances.find((candidate) => candidate.n === n);
    if (!found) throw new StackRequestError(404, `no instance ${n} (instances are 1..${count})`);
    return found;
  };

  const status = (target: Instance) => ({
    n: target.n,
    id: target.id,
    port: target.port,
    url: `http://127.0.0.1:${target.port}`,
    metricsUrl: `http://127.0.0.1:${target.metricsPort}/metrics`,
    pid: target.lifecycle.pid(),
    state: target.lifecycle.state(),
  });

  function instanceEnv({ port, metricsPort, id }: Instance, overrides: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const inherited = { ...env };
    // The stack provides the Redis credentials; inherited variants would conflict with them.
    for (const name of [
      'REDIS_PASSWORD',
      'REDIS_PASSWORD_FILE',
      'REDIS_SENTINEL_PASSWORD',
      'SESSION_SECRET_FILE',
      'DATABASE_PASSWORD',
      'CACHE_REDIS_PASSWORD',
    ])
      delete inherited[name];
    const merged: NodeJS.ProcessEnv = {
      ...inherited,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      INSTANCE_ID: id,
      TRUST_PROXY: '1',
      // The same shape as compose: user in the URL, passwords and secrets in files.
      ...servicesEnv,
      REDIS_PASSWORD_FILE: secrets.redisAppPasswordFile,
      SESSION_SECRET_FILE: secrets.sessionSecretFile,
      ALLOW_DEMO_USERS: 'true',
      DEMO_USERS: demoUsers,
      ...overrides,
    };
    // A SESSION_SECRET in the caller's environment replaces the generated one (a restart may not set it).
    if (merged.SESSION_SECRET) delete merged.SESSION_SECRET_FILE;
    return merged;
  }

  async function start(n: number, { env }: { env?: NodeJS.ProcessEnv } = {}) {
    // Whoever asks (the control API, the bench), a start changes only the allowed settings: never code loading,
    // secrets or users.
    const overrides = allowedEnv(env) ?? {};
    const target = instance(n);
    await target.lifecycle.start({
      command: process.execPath,
      args: [appEntry],
      env: instanceEnv(target, overrides),
      ready: () => isHttpOk(`http://127.0.0.1:${target.port}/readyz`),
    });
    return status(target);
  }

  async function stop(n: number) {
    const target = instance(n);
    const exited = await target.lifecycle.stop();
    if (exited && exited.code !== 0) log(`${target.id} stopped with ${describeExit(exited)}`);
    return status(target);
  }

  async function kill(n: number) {
    const target = instance(n);
    await target.lifecycle.kill();
    return status(target);
  }

  /**
   * SIGHUP: the instance reads REDIS_TLS_CA_FILE again (app/src/server.ts), with no restart. Done once its metrics say
   * it read the file after the signal; a 500 if it refused what the file holds (its log says why).
   */
  async function reload(n: number) {
    const target = instance(n);
    const sentAt = Date.now() / 1000;
    target.lifecycle.signal('SIGHUP');
    const metrics = await waitFor(
      `${target.id} reading its Redis CA again`,
      async () => {
        const text = await (await fetch(status(target).metricsUrl, { signal: AbortSignal.timeout(2_000) })).text();
        return Number(/^redis_ca_last_reload_timestamp_seconds (\S+)$/m.exec(text)?.[1]) >= sentAt && text;
      },
      { timeoutMs: RELOAD_TIMEOUT_MS, intervalMs: 20 },
    );
    if (!/^redis_ca_last_reload_successful 1$/m.test(metrics))
      throw new StackRequestError(500, `${target.id} refused the new REDIS_TLS_CA_FILE (its log says why)`);
    return status(target);
  }

  return {
    ports: instances.map((target) => target.port),
    start,
    stop,
    kill,
    reload,
    async restart(n: number, startOptions: { env?: NodeJS.ProcessEnv } = {}) {
      await stop(n);
      return start(n, startOptions);
    },
    startAll: () => Promise.all(instances.map((target) => start(target.n))),
    stopAll: () => Promise.all(instances.map((target) => stop(target.n))),
    status: () => instances.map(status),
  };
}
