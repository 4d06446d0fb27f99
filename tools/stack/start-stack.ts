import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_DEMO_USERS, parseUsers } from '../lib/demo-users.ts';
import { repoRoot, runPaths } from '../lib/paths.ts';
import { assertPortsFree } from '../lib/ports.ts';
import { findTools } from '../lib/prereqs.ts';
import { redisUrl, trustRedisCa } from '../lib/redis.ts';
import { renderAcl } from '../lib/redis-server.ts';
import { ensureSecrets } from '../lib/secrets.ts';
import { createAppInstances, METRICS_PORT_OFFSET } from './app-instances.ts';
import { type CacheEngine, catalogPorts, createCatalogServices } from './catalog-services.ts';
import { stopLeftovers } from './leftovers.ts';
import { createMonitoring, monitoringPorts } from './monitoring.ts';
import { createNginxProcess } from './nginx-process.ts';
import { createRedisClusterTopology } from './redis-cluster-topology.ts';
import { createRedisTopology, type RedisMode, topologyPorts } from './redis-topology.ts';
import { createSupervisor } from './supervisor.ts';

export { CACHE_ENGINES, type CacheEngine } from './catalog-services.ts';

export type StackOptions = {
  /** Number of app instances (default 3): INSTANCE_ID app-1..N on ports appBasePort+1.. */
  instances?: number;
  nginxPort?: number;
  /** The first Redis node's port (the others and the Sentinels' follow it, see redis-topology.ts). */
  redisPort?: number;
  /** `sentinel` (default): a primary, two replicas, three Sentinels; `single`: one node. TLS either way. */
  redis?: RedisMode;
  /**
   * The product catalogue (default on): PostgreSQL on redisPort + 30 and the cache Redis on redisPort + 20
   * (6410 and 6400 by default), as compose runs them.
   */
  catalog?: boolean;
  /** The catalogue's cache engine: `redis` (default, one node) or `memcached` (three nodes, after the cache's port). */
  cache?: CacheEngine;
  appBasePort?: number;
  /** Runtime files (secrets, AOF, nginx prefix); default `.run/` at the repository root. */
  runDir?: string;
  /**
   * Start from empty data: the run dir's Redis and PostgreSQL state (AOF, the configs Sentinel rewrote after a
   * failover, the database) is removed first. For the bench and the chaos suite, which need a known topology.
   */
  fresh?: boolean;
  /** The app's entry point; default app/src/server.ts. */
  appEntry?: string;
  /** Passed through to every instance (default process.env); the stack's own settings win. */
  env?: NodeJS.ProcessEnv;
  /**
   * Also print the output of Redis, the Sentinels, PostgreSQL, memcached, Prometheus and the exporters; by default
   * it goes to `<runDir>/logs/<name>.log`, so the console shows the stack's own lines, the apps' and nginx's.
   */
  verbose?: boolean;
  /** Receives every line: the stack's own (`[stack] ...`) and the children's (`[app-1] ...`), unless outputFile. */
  print?: (line: string) => void;
  /**
   * The children write their output (nginx's access log, the apps' JSON lines) straight into this file, unprefixed,
   * instead of the runner relaying every line: for the benchmark, where relaying cost ~30 µs of runner CPU per request.
   */
  outputFile?: string;
  readyTimeoutMs?: number;
  /** SIGTERM grace before SIGKILL; above the app's SHUTDOWN_TIMEOUT_MS default (10s). */
  appStopTimeoutMs?: number;
  /**
   * Also a real Prometheus scraping every instance with the shipped config and alert rules, on this port, and one
   * prometheus-redis-exporter per session Redis data node (on the node's port + 40: 6420-6422 by default; none for
   * `cluster`).
   */
  prometheusPort?: number;
  /** Its scrape and rule-evaluation interval (default 5 s; the shipped config says 15 s). */
  prometheusIntervalS?: number;
  /**
   * `sentinel` only: Sentinel i connects from 127.0.2.i (and listens there too besides 127.0.0.1), so iptables rules
   * can cut its links and not the apps' (the partition suite). Linux only: any 127.x address is local there.
   */
  sentinelSources?: boolean;
  /** Aborting it during start-up stops whatever was started; startStack then rejects. */
  signal?: AbortSignal;
};

/**
 * Starts the session Redis (see redis-topology.ts), N app instances and nginx from the shipped infra files, waits until nginx answers
 * /readyz with 200, and returns a handle to inspect, break and repair the stack, and to stop it.
 * On a failed start, whatever was started is stopped before the error is thrown.
 */
export async function startStack(options: StackOptions = {}) {
  const {
    instances: count = 3,
    nginxPort = 8080,
    redisPort = 6380,
    redis: redisMode = 'sentinel',
    catalog: withCatalog = true,
    cache: cacheEngine = 'redis',
    appBasePort = 3000,
    appEntry = join(repoRoot, 'app/src/server.ts'),
    env = process.env,
    print: printLine = (line: string) => console.log(line),
    readyTimeoutMs = 30_000,
    appStopTimeoutMs = 15_000,
    prometheusPort,
  } = options;
  const print = withoutOvercommitWarnings(printLine);
  if (!Number.isInteger(count) || count < 1 || count > 50) throw new Error(`instances: expected 1..50, got ${count}`);
  const log = (message: string) => print(`[stack] ${message}`);
  const paths = runPaths(options.runDir);
  const tools = findTools();

  for (const line of await stopLeftovers(paths.pidsFile)) log(line);
  const appPorts = Array.from({ length: count }, (_, i) => appBasePort + i + 1);
  const redisPorts = topologyPorts(redisMode, redisPort);
  await assertPortsFree([
    { port: nginxPort, what: 'nginx' },
    ...redisPorts,
    ...(withCatalog ? catalogPorts(cacheEngine, redisPort) : []),
    ...appPorts.map((port, i) => ({ port, what: `app-${i + 1}` })),
    ...appPorts.map((port, i) => ({ port: port + METRICS_PORT_OFFSET, what: `app-${i + 1} metrics` })),
    ...(prometheusPort === undefined ? [] : monitoringPorts(prometheusPort, redisPorts)),
  ]);

  if (options.fresh)
    for (const dir of [paths.redis, join(paths.runDir, 'postgres')]) rmSync(dir, { recursive: true, force: true });
  for (const dir of [paths.runDir, paths.redis, paths.nginx]) mkdirSync(dir, { recursive: true });
  // Redis's data (sessions, configs with passwords) is the owner's alone, whatever the umask that made the dir.
  chmodSync(paths.redis, 0o700);
  const secrets = ensureSecrets(paths.secrets);
  trustRedisCa(secrets.redisCaFile);
  const aclFile = join(paths.redis, 'users.acl');
  renderAcl(secrets.dir, aclFile, tools.redisServer, redisMode === 'cluster' ? 'cluster' : 'sessions');
  const demoUsers = env.DEMO_USERS || DEFAULT_DEMO_USERS;
  const urls = {
    nginx: `http://127.0.0.1:${nginxPort}`,
    /** The first node: the primary at start (status() says which node is primary now). */
    get redisApp() {
      return redisUrl('app', secrets.redisAppPassword, redisPort, { tls: true });
    },
    get redisAdmin() {
      return redisUrl('admin', secrets.redisAdminPassword, redisPort, { tls: true });
    },
  };

  const logsDir = join(paths.runDir, 'logs');
  const supervisor = createSupervisor({
    pidsFile: paths.pidsFile,
    print,
    outputFile: options.outputFile,
    ...(options.verbose ? {} : { logsDir }),
  });
  if (!options.verbose && options.outputFile === undefined)
    log(`the output of Redis, PostgreSQL and the other servers: ${logsDir}/ (npm start -- --verbose prints it here)`);
  explainOvercommit(log);
  const cancel = () => supervisor.close();
  options.signal?.addEventListener('abort', cancel, { once: true });

  // The parts, back to front. Each is made here and started below, once the one it depends on is ready.
  const redisOptions = {
    supervisor,
    redisServer: tools.redisServer,
    port: redisPort,
    dir: paths.redis,
    aclFile,
    secrets,
    readyTimeoutMs,
    ...(options.sentinelSources ? { sentinelSources: true } : {}),
  };
  const redis =
    redisMode === 'cluster'
      ? createRedisClusterTopology(redisOptions)
      : createRedisTopology({ mode: redisMode, ...redisOptions });
  const catalog = withCatalog
    ? createCatalogServices({
        supervisor,
        engine: cacheEngine,
        redisPort,
        redisServer: tools.redisServer,
        redisDir: paths.redis,
        runDir: paths.runDir,
        secrets,
        readyTimeoutMs,
      })
    : undefined;
  const instances = createAppInstances({
    supervisor,
    count,
    appBasePort,
    appEntry,
    env,
    servicesEnv: { ...redis.appEnv(), ...catalog?.appEnv() },
    secrets,
    demoUsers,
    readyTimeoutMs,
    appStopTimeoutMs,
    log,
  });
  const nginx = createNginxProcess({
    supervisor,
    nginx: tools.nginx,
    port: nginxPort,
    dir: paths.nginx,
    appPorts,
    readyTimeoutMs,
    log,
  });
  const monitoring =
    prometheusPort === undefined
      ? undefined
      : createMonitoring({
          supervisor,
          port: prometheusPort,
          intervalS: options.prometheusIntervalS ?? 5,
          redisNodePorts: redis.mode === 'cluster' ? [] : redis.status().nodes.map((node) => node.port),
          appMetricsPorts: appPorts.map((port) => port + METRICS_PORT_OFFSET),
          secrets,
          runDir: paths.runDir,
          readyTimeoutMs,
        });

  /**
   * A planned restart: the instance out of nginx's rotation first (unless no other one is ready to serve), so no
   * request meets its shutdown; back in once it is ready again.
   */
  async function restartInstance(n: number, startOptions: { env?: NodeJS.ProcessEnv } = {}) {
    const all = instances.status();
    const port = all.find((instance) => instance.n === n)?.port;
    const drain = port !== undefined && all.some((instance) => instance.n !== n && instance.state === 'ready');
    if (drain) await nginx.drain(port);
    try {
      return await instances.restart(n, startOptions);
    } finally {
      if (drain) await nginx.undrain(port);
    }
  }

  let stopping: Promise<void> | undefined;
  /** Front to back: nginx stops taking requests, the apps drain, then Redis writes its AOF and exits. */
  function stop() {
    stopping ??= (async () => {
      supervisor.close();
      log('stopping');
      await monitoring?.stop();
      await nginx.stop();
      await instances.stopAll();
      await catalog?.stop();
      await redis.stop();
      supervisor.forget();
      supervisor.closeOutput();
      log('stopped');
    })();
    return stopping;
  }

  const status = () => ({
    nginx: nginx.status(),
    redis: redis.status(),
    ...catalog?.status(),
    instances: instances.status(),
    ...monitoring?.status(),
    demoUsers: parseUsers(demoUsers).map((user) => user.username),
    runDir: paths.runDir,
  });

  // A child that dies, a readiness timeout or an abort: everything started so far is stopped before the error.
  try {
    options.signal?.throwIfAborted();
    log(`starting redis (${redisMode}, TLS) on 127.0.0.1:${redisPorts.map((p) => p.port).join(', ')}`);
    await redis.start();
    options.signal?.throwIfAborted();
    await catalog?.start(log, options.signal);
    options.signal?.throwIfAborted();
    log(`starting ${count} app instance(s) on ports ${appPorts.join(', ')}`);
    await instances.startAll();
    options.signal?.throwIfAborted();
    log(`starting nginx on 127.0.0.1:${nginxPort}`);
    await nginx.start();
    options.signal?.throwIfAborted();
    await monitoring?.start(log, options.signal);
    options.signal?.throwIfAborted();
  } catch (err) {
    await stop();
    throw err;
  } finally {
    options.signal?.removeEventListener('abort', cancel);
  }

  return {
    /** In-process only: the Redis URLs carry passwords, so never print or serve them (`status()` has none). */
    urls,
    secretsDir: secrets.dir,
    redisAdminPasswordFile: secrets.redisAdminPasswordFile,
    redisCaFile: secrets.redisCaFile,
    demoUsers,
    status,
    /** status(), with each Redis node's role asked of the node (for GET /status). */
    describe: async () => ({ ...status(), redis: await redis.describe() }),
    /**
     * The session Redis (redis-topology.ts, redis-cluster-topology.ts): break and repair it (kill, startNodes,
     * pause, resume: every data node at once, and the Sentinels with a pause; killPrimary, killReplica, pausePrimary, resumePaused), the planned
     * operations (switchover, rollingRestart, restartSentinels: Sentinel only, 409 otherwise) and admin URLs.
     */
    redis: {
      ...redis,
      /** The admin user's URL on the node that is primary now (after a failover, not the first node). */
      primaryAdminUrl: async () => redis.adminUrl((await redis.primary()).port),
    },
    /** The app instances by number (1..N): start, stop, kill, reload (SIGHUP), and restart (drained through nginx). */
    instances: {
      start: instances.start,
      stop: instances.stop,
      kill: instances.kill,
      reload: instances.reload,
      restart: restartInstance,
    },
    /** The catalogue's servers (cache or cacheNodes, postgres); undefined without the catalogue. */
    catalog,
    /** Prometheus and the Redis exporters; undefined without `prometheusPort`. */
    monitoring,
    stop,
  };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

/**
 * Redis warns at every start, in a long line, when the host lets the kernel refuse memory to a fork
 * (vm.overcommit_memory=0, the default on most machines): said once by the runner instead, with what it means here and
 * what to do (explainOvercommit), and Redis's own line is dropped where it would reach the console.
 */
function withoutOvercommitWarnings(print: (line: string) => void) {
  return (line: string) => {
    if (!line.includes('WARNING Memory overcommit must be enabled')) print(line);
  };
}

function explainOvercommit(log: (message: string) => void) {
  let setting: string;
  try {
    setting = readFileSync('/proc/sys/vm/overcommit_memory', 'utf8').trim();
  } catch {
    return; // not Linux: Redis does not warn either
  }
  if (setting === '0')
    log(
      'note: this host has vm.overcommit_memory=0, so Redis warns that a background save or a full resync of a ' +
        "replica may fail when memory is short; harmless for a demo, set `sysctl vm.overcommit_memory=1` on Redis's " +
        'hosts in production (docs/operations.md, Troubleshooting)',
    );
}
