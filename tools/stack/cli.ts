import { createControlToken } from './control-auth.ts';
import { startControlServer } from './control-server.ts';
import { parseCommandLine } from '../lib/command-line.ts';
import { assertPortsFree } from '../lib/ports.ts';
import { withoutPassword } from '../lib/redis.ts';
import { REDIS_MODES } from './redis-topology.ts';
import { CACHE_ENGINES, startStack, type Stack } from './start-stack.ts';

const usage = `
npm start: the local stack without Docker: the session Redis, N app instances and nginx from the shipped infra files.
Ctrl-C (or SIGTERM) stops everything. The library behind it is tools/stack/start-stack.ts.

  npm start                          3 instances, http://127.0.0.1:8080
  npm start -- --instances 5         or STACK_INSTANCES=5
  npm start -- --redis single        one Redis instead of the default --redis sentinel (a primary, two replicas and
                                     three Sentinels: 6380-6382 and 6390-6392); TLS either way
  npm start -- --redis cluster       a Redis Cluster: three primaries and three replicas on 6380-6385
  npm start -- --cache memcached     the catalogue's cache on three memcached nodes (6401-6403; TLS, authentication)
                                     instead of the default --cache redis (one node, 6400)
  npm start -- --control             or STACK_CONTROL=1: control API on 127.0.0.1:8099 (--control-port / STACK_CONTROL_PORT),
                                     for callers sending the run's token (<run dir>/secrets/control_token) as a Bearer
  npm start -- --with-prometheus     also a real Prometheus on 127.0.0.1:9090 (--prometheus-port) scraping every instance's
                                     metrics (127.0.0.1:3051..) and a prometheus-redis-exporter per session Redis data node
                                     (127.0.0.1:6420..; not with --redis cluster), with the shipped alert rules
  npm start -- --verbose             also print what Redis, the Sentinels, PostgreSQL, memcached, Prometheus and the
                                     exporters say (by default in <run dir>/logs/<name>.log)

Options: --instances N, --redis sentinel|single|cluster, --cache redis|memcached, --control, --control-port N, --with-prometheus, --prometheus-port N, --verbose, --nginx-port N (8080), --redis-port N (6380),
--app-base-port N (3000: apps on 3001..), --run-dir DIR (.run/), --help`;

const { values, integer, choice } = parseCommandLine(
  { command: 'npm start', usage },
  {
    instances: { type: 'string', default: process.env.STACK_INSTANCES ?? '3' },
    control: { type: 'boolean', default: process.env.STACK_CONTROL === '1' },
    'control-port': { type: 'string', default: process.env.STACK_CONTROL_PORT ?? '8099' },
    // Defaults in start-stack.ts (nginx 8080, redis 6380, apps 3001.., .run/); tests run a second stack beside yours.
    'nginx-port': { type: 'string' },
    'redis-port': { type: 'string' },
    'app-base-port': { type: 'string' },
    'run-dir': { type: 'string' },
    redis: { type: 'string', default: 'sentinel' },
    cache: { type: 'string', default: 'redis' },
    'with-prometheus': { type: 'boolean', default: false },
    'prometheus-port': { type: 'string', default: '9090' },
    verbose: { type: 'boolean', default: false },
  },
);
const portOption = (name: 'nginx-port' | 'redis-port' | 'app-base-port') =>
  values[name] === undefined ? undefined : integer(name);
const instances = integer('instances');
const redis = choice('redis', REDIS_MODES);
const cache = choice('cache', CACHE_ENGINES);
const controlPort = integer('control-port');
const log = (message: string) => console.log(`[stack] ${message}`);
const fail = (message: string) => {
  console.error(`[stack] ${message}`);
  process.exit(1);
};

let stack: Stack | undefined;
let control: Awaited<ReturnType<typeof startControlServer>> | undefined;
let stopping = false;
const starting = new AbortController();
async function shutdown(signal: string) {
  if (!stack) {
    if (starting.signal.aborted) {
      // The exit hook kills every child's process group.
      log(`${signal} again; killing everything now`);
      process.exit(1);
    }
    // startStack stops what it started, in order, then rejects; the start-up code below exits.
    log(`${signal} during start; stopping what was started`);
    starting.abort();
    return;
  }
  if (stopping) {
    log(`${signal} again; killing everything now`);
    process.exit(1);
  }
  stopping = true;
  log(`${signal} received`);
  control?.close();
  control?.closeAllConnections();
  await stack.stop();
  process.exit(0);
}
process.on('SIGINT', (signal) => void shutdown(signal));
process.on('SIGTERM', (signal) => void shutdown(signal));

if (values.control) {
  try {
    await assertPortsFree([{ port: controlPort, what: 'control API' }]);
  } catch (err) {
    fail((err as Error).message);
  }
}

try {
  stack = await startStack({
    instances,
    nginxPort: portOption('nginx-port'),
    redisPort: portOption('redis-port'),
    redis,
    cache,
    appBasePort: portOption('app-base-port'),
    runDir: values['run-dir'],
    verbose: values.verbose,
    ...(values['with-prometheus'] ? { prometheusPort: integer('prometheus-port') } : {}),
    ...(process.env.STACK_APP_ENTRY ? { appEntry: process.env.STACK_APP_ENTRY } : {}),
    signal: starting.signal,
  });
} catch (err) {
  if (starting.signal.aborted) {
    log('stopped before it was ready');
    process.exit(130);
  }
  fail(`could not start the stack: ${(err as Error).message}`);
}
let controlTokenPath: string | undefined;
if (values.control && stack) {
  const { token, file } = createControlToken(stack.status().runDir);
  controlTokenPath = file;
  control = await startControlServer(stack, { port: controlPort, token });
}

if (stack) {
  log(`ready: ${stack.urls.nginx}/`);
  log(`demo accounts (DEMO_USERS): ${stack.demoUsers.split(',').join('  ')}`);
  // The URL without its password: secrets stay in their files, never in a terminal or a log.
  const { nodes, sentinels } = stack.status().redis;
  log(
    `redis (${redis}, TLS): nodes on ${nodes.map((node) => node.port).join(', ')}` +
      (sentinels.length ? `, Sentinels on ${sentinels.map((sentinel) => sentinel.port).join(', ')}` : ''),
  );
  log(
    `redis (admin, for operators and the benchmark): ${withoutPassword(stack.urls.redisAdmin)} (password: ${stack.redisAdminPasswordFile}, CA: ${stack.redisCaFile})`,
  );
  if (control)
    log(`control API: http://127.0.0.1:${controlPort}/status (Authorization: Bearer <the token in ${controlTokenPath}>)`);
  const { prometheus } = stack.status();
  if (prometheus) log(`prometheus: ${prometheus.url}/alerts`);
  log('press Ctrl-C to stop');
}
