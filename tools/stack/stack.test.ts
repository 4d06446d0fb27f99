import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { repoRoot } from '../lib/paths.ts';
import { poll, waitFor } from '../lib/poll.ts';
import { readProcStat } from '../lib/proc-stat.ts';
import { send, sessionOf } from '../lib/http.ts';
import { login, openLoginForm } from '../lib/session-client.ts';
import { freePort, freePortBase, isPortFree } from '../lib/ports.ts';
import { spawnCaptured } from '../lib/spawn.ts';

const CLI = join(import.meta.dirname, 'cli.ts');

/** The apps' base port: the apps (+1, +2) and their metrics listeners (+51, +52), below the ephemeral range. */
const freeAppBase = () => freePortBase([1, 2, 51, 52], 30000, 32700);

/**
 * The Redis base port: the Sentinel group (+0..2, +10..12), the cache (+20), PostgreSQL (+30), the nodes' exporters
 * with --with-prometheus (+40..42), below the ephemeral range.
 */
const REDIS_OFFSETS = [0, 1, 2, 10, 11, 12, 20, 30, 40, 41, 42];
/** --cache memcached: memcached-1..3 (+21..23) instead of the cache Redis. */
const MEMCACHED_OFFSETS = [0, 1, 2, 10, 11, 12, 21, 22, 23, 30];
/** A Redis Cluster (--redis cluster): six nodes (+0..5) and their cluster bus (+10000..10005), and the catalogue's. */
const CLUSTER_OFFSETS = [0, 1, 2, 3, 4, 5, 10_000, 10_001, 10_002, 10_003, 10_004, 10_005, 20, 30];
// A cluster's bus ports (+10000..) stay below the ephemeral range too.
const freeRedisBase = (offsets = REDIS_OFFSETS) => freePortBase(offsets, 20000, offsets === CLUSTER_OFFSETS ? 22700 : 29900);

const allPids = () =>
  readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);

/**
 * Pids of what a stack run started: processes whose environment carries `marker` (the runner, the app instances),
 * and processes in the sessions of the runner's children (each child leads its own session, and nginx's workers
 * stay in their master's even after it died; redis-server and nginx overwrite their environment with their title).
 */
function processesOfRun(marker: string, sessions: Set<number>): number[] {
  return allPids().filter((pid) => {
    const stat = readProcStat(pid);
    if (stat && sessions.has(stat.session)) return true;
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker);
    } catch {
      return false; // gone, or not ours to read
    }
  });
}

/**
 * `npm start` as a user runs it, on ports of its own (beside a stack you may already run) and a run dir of its own.
 * Every process it starts inherits a marker in its environment, so the test can find any it left behind.
 * Registers its own teardown: SIGKILL for whatever is left, the run dir removed.
 */
async function runStack(
  t: TestContext,
  {
    control = false,
    prometheus = false,
    env = process.env,
    nginxPort,
    cluster = false,
    memcached = false,
    verbose = false,
  }: {
    control?: boolean;
    prometheus?: boolean;
    env?: NodeJS.ProcessEnv;
    nginxPort?: number;
    cluster?: boolean;
    memcached?: boolean;
    verbose?: boolean;
  } = {},
) {
  const runDir = mkdtempSync(join(tmpdir(), 'stack-test-'));
  const redisOffsets = cluster ? CLUSTER_OFFSETS : memcached ? MEMCACHED_OFFSETS : REDIS_OFFSETS;
  const ports = {
    nginx: nginxPort ?? (await freePort()),
    redis: await freeRedisBase(redisOffsets),
    control: await freePort(),
    prometheus: await freePort(),
    appBase: await freeAppBase(),
  };
  const marker = `STACK_TEST_RUN=${randomUUID()}`;
  const [markerName = '', markerValue] = marker.split('=');
  const args = [
    ...['--run-dir', runDir, '--instances', '2', '--nginx-port', String(ports.nginx), '--redis-port', String(ports.redis)],
    ...['--app-base-port', String(ports.appBase)],
    ...(control ? ['--control', '--control-port', String(ports.control)] : []),
    ...(prometheus ? ['--with-prometheus', '--prometheus-port', String(ports.prometheus)] : []),
    ...(cluster ? ['--redis', 'cluster'] : []),
    ...(memcached ? ['--cache', 'memcached'] : []),
    ...(verbose ? ['--verbose'] : []),
  ];
  const run = spawnCaptured(process.execPath, [CLI, ...args], { env: { ...env, [markerName]: markerValue } });
  // The sessions of the runner's children, sampled while it runs: whatever they leave behind is found by session.
  const sessions = new Set<number>();
  const sample = setInterval(() => {
    for (const pid of allPids()) if (readProcStat(pid)?.parentPid === run.child.pid) sessions.add(pid);
  }, 20);
  void run.exited.finally(() => clearInterval(sample));
  t.after(() => {
    clearInterval(sample);
    run.child.kill('SIGKILL');
    for (const pid of processesOfRun(marker, sessions)) process.kill(pid, 'SIGKILL');
    rmSync(runDir, { recursive: true, force: true });
  });
  // The Sentinel group, the cache Redis (+20) and PostgreSQL (+30).
  const redisPorts = redisOffsets.map((offset) => ports.redis + offset);
  const allPorts = [ports.nginx, ...redisPorts, ports.control, ports.prometheus, ...[1, 2, 51, 52].map((n) => ports.appBase + n)];
  /** The control API as the e2e suite calls it: with the run's token (and a JSON body when there is one). */
  const controlToken = () => readFileSync(join(runDir, 'secrets', 'control_token'), 'utf8').trim();
  const callControl = async <T>(path: string, { method = 'GET', json }: { method?: string; json?: unknown } = {}) => {
    const reply = await send(`http://127.0.0.1:${ports.control}${path}`, {
      method,
      agent: false,
      timeoutMs: 45_000,
      headers: {
        authorization: `Bearer ${controlToken()}`,
        ...(json === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
    assert.equal(reply.status, 200, `${method} ${path}: ${reply.status} ${reply.body}`);
    return JSON.parse(reply.body) as T;
  };
  return {
    ...run,
    control: callControl,
    controlToken,
    /** The runner's children seen so far (Redis, each instance, nginx, and short-lived helpers such as sh). */
    sessions,
    runDir,
    ports,
    exitCode: run.exited.then(({ code }) => code),
    /** Resolves once the runner has printed `text`; fails at once if it exits first. */
    async printed(text: string) {
      const exited = () => (run.child.exitCode === null && run.child.signalCode === null ? undefined : 'the runner exited');
      const seen = await poll(async () => run.output().includes(text), { timeoutMs: 30_000, failIf: exited }).catch(
        () => undefined,
      );
      if (!seen) assert.fail(`"${text}" was not printed; the output:\n${run.output()}`);
    },
    /** Polls briefly (a killed process needs a moment to be reaped) until nothing started is left. */
    async assertNothingLeft() {
      const left = await poll(async () => processesOfRun(marker, sessions).length === 0, { timeoutMs: 3_000 });
      assert.deepEqual(left ? [] : processesOfRun(marker, sessions), [], `processes left running:\n${run.output()}`);
      for (const port of allPorts.filter((port) => port !== nginxPort))
        assert.equal(await isPortFree(port), true, `port ${port} is still taken`);
    },
  };
}

/** Writes `request` as is to 127.0.0.1:port and resolves with everything read until the server closes (or 5 s pass). */
const rawHttp = (port: number, request: string) =>
  new Promise<string>((resolve, reject) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no end of answer within 5 s: ${answer}`)));
    socket.on('data', (chunk) => (answer += String(chunk)));
    socket.on('end', () => resolve(answer));
    socket.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(answer) : reject(err)));
  });

const secretsOf = (runDir: string) =>
  ['session_secret', 'redis_app_password', 'redis_admin_password'].map((name) =>
    readFileSync(join(runDir, 'secrets', name), 'utf8').trim(),
  );

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
const accepting = (port: number) =>
  waitFor(
    `127.0.0.1:${port} accepting`,
    () => {
      return new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => resolve(socket.destroy() && true));
        socket.once('error', () => resolve(false));
      });
    },
    { timeoutMs: 30_000 },
  );

describe('npm start (tools/stack/cli.ts)', () => {
  it("--cache memcached --verbose › products cached on three memcached nodes through nginx; the servers' output printed too; Ctrl-C leaves no process and no port", async (t) => {
    const stack = await runStack(t, { memcached: true, verbose: true });
    await stack.printed('[stack] ready:');
    assert.match(stack.output(), /starting memcached on 127\.0\.0\.1:\d+, \d+, \d+/);
    assert.match(stack.output(), /^\[redis-1\] .*Ready to accept connections/m);
    assert.match(stack.output(), /^\[postgres\] /m);
    const product = `http://127.0.0.1:${stack.ports.nginx}/api/products/21`;
    assert.equal((await fetch(product)).headers.get('x-cache'), 'miss');
    await waitFor('a hit from memcached', async () => (await fetch(product)).headers.get('x-cache') === 'hit');
    stack.child.kill('SIGINT');
    assert.equal(await stack.exitCode, 0, stack.output());
    await stack.assertNothingLeft();
  });

  it('--instances 2 › two instances behind nginx; no secret in the output or the status; Ctrl-C leaves no process and no listening port', async (t) => {
    const stack = await runStack(t, { control: true, prometheus: true });
    // The runner prints "ready" once nginx answers /readyz (polled, like everything here).
    await stack.printed('[stack] ready:');
    const { nginx } = stack.ports;
    assert.equal((await fetch(`http://127.0.0.1:${nginx}/readyz`)).status, 200);
    assert.match(stack.output(), /\[stack\] ready: http:\/\/127\.0\.0\.1:\d+\//);
    assert.match(stack.output(), /demo accounts/);
    assert.match(stack.output(), /\[app-1\] /);
    assert.doesNotMatch(stack.output(), /redis:\/\/admin:[^@]+@/, 'printed the admin password');
    // Nothing alarming about what is normal: PostgreSQL's readiness is read from its pid file, not by connecting
    // ("FATAL: the database system is starting up"), and Redis's overcommit warning is said once, by the runner.
    assert.doesNotMatch(stack.output(), /FATAL/);
    assert.doesNotMatch(stack.output(), /WARNING Memory overcommit/);
    // A readable console: the stack's lines, the apps' and nginx's; what the servers say is in a file each.
    const servers = /^\[(redis|sentinel|cache|postgres|memcached|exporter|prometheus)[^\]]*\] /m;
    assert.doesNotMatch(stack.output(), servers, 'a server printed to the console');
    const logs = join(stack.runDir, 'logs');
    assert.match(readFileSync(join(logs, 'redis-1.log'), 'utf8'), /Ready to accept connections/);
    assert.match(readFileSync(join(logs, 'sentinel-1.log'), 'utf8'), /monitor master/);
    assert.match(readFileSync(join(logs, 'postgres.log'), 'utf8'), /ready to accept connections/);
    assert.equal(statSync(join(logs, 'redis-1.log')).mode & 0o077, 0, "a server's log is the owner's alone");
    // With --run-dir, the banner names the secrets where they are, not the default .run/secrets.
    assert.ok(
      stack.output().includes(`(password: ${join(stack.runDir, 'secrets', 'redis_admin_password')},`),
      `the banner names the real secrets path:\n${stack.output()}`,
    );

    const served = new Set<string>();
    for (let i = 0; i < 6; i++) served.add((await fetch(`http://127.0.0.1:${nginx}/api/session`)).headers.get('x-instance-id')!);
    assert.deepEqual([...served].sort(), ['app-1', 'app-2']);

    // One log line per request, nginx's access log, naming the instance that answered; the app adds none of its own.
    const probe = await fetch(`http://127.0.0.1:${nginx}/api/session`);
    const requestId = probe.headers.get('x-request-id')!;
    await stack.printed(requestId);
    const lines = stack
      .output()
      .split('\n')
      .filter((line) => line.includes(requestId));
    assert.equal(lines.length, 1, `one line for request ${requestId}:\n${lines.join('\n')}`);
    const entry = JSON.parse(lines[0]!.replace(/^\[nginx\] /, '')) as Record<string, unknown>;
    assert.deepEqual(
      { uri: entry.uri, status: entry.status, instance: entry.instance },
      { uri: '/api/session', status: 200, instance: probe.headers.get('x-instance-id') },
    );

    // nginx answers only for the names it serves (infra/nginx/default-server.conf): any other Host, no answer.
    const statusAs = (host: string) =>
      new Promise<number>((resolve, reject) =>
        request({ host: '127.0.0.1', port: nginx, path: '/readyz', headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end(),
      );
    assert.equal(await statusAs(`localhost:${nginx}`), 200);
    await assert.rejects(statusAs('evil.example'), /socket hang up/);

    const statusText = JSON.stringify(await stack.control('/status'));
    for (const [i, secret] of secretsOf(stack.runDir).entries()) {
      assert.equal(statusText.includes(secret), false, `GET /status shows secret ${i + 1}: ${statusText}`);
      assert.equal(stack.output().includes(secret), false, `the output shows secret ${i + 1}`);
    }
    type Status = {
      redis: { mode: string; nodes: { pid: number; role: string }[]; sentinels: { pid: number }[] };
      cache: { pid: number; state: string };
      postgres: { pid: number; state: string };
      nginx: { pid: number };
      prometheus: { pid: number; state: string };
      redisExporters: { pid: number; state: string }[];
      instances: { pid: number; port: number; metricsUrl: string }[];
    };
    const status = JSON.parse(statusText) as Status;
    // --with-prometheus: a real Prometheus, ready; each instance's metrics on a port of its own, not through nginx.
    assert.equal(status.prometheus.state, 'ready');
    // And one prometheus-redis-exporter per data node.
    assert.deepEqual(
      status.redisExporters.map((exporter) => exporter.state),
      ['ready', 'ready', 'ready'],
    );
    for (const { metricsUrl } of status.instances) assert.equal((await fetch(metricsUrl)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${nginx}/metrics`)).status, 404);
    // The default topology: every Redis node with the role it reports, and the Sentinels.
    assert.equal(status.redis.mode, 'sentinel');
    assert.deepEqual(status.redis.nodes.map((node) => node.role).sort(), ['primary', 'replica', 'replica']);
    const pids: number[] = [
      ...status.redis.nodes.map((node) => node.pid),
      ...status.redis.sentinels.map((sentinel) => sentinel.pid),
      status.cache.pid,
      status.postgres.pid,
      status.nginx.pid,
      status.prometheus.pid,
      ...status.redisExporters.map((exporter) => exporter.pid),
      ...status.instances.map((instance) => instance.pid),
    ];
    assert.equal(pids.filter(Boolean).length, 15);
    for (const pid of pids) assert.ok(stack.sessions.has(pid), `the test sees child ${pid}, whose session it watches`);

    stack.child.kill('SIGINT');
    assert.equal(await stack.exitCode, 0, stack.output());
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `process ${pid} is still running`);
    await stack.assertNothingLeft();
  });

  it('--control › refuses what a web page can send (no token, a text/plain body, a foreign Host) and a restart that sets NODE_OPTIONS or DEMO_USERS; the token file is 0600', async (t) => {
    const stack = await runStack(t, { control: true });
    await stack.printed('[stack] ready:');
    const tokenFile = join(stack.runDir, 'secrets', 'control_token');
    assert.ok(stack.output().includes(tokenFile), `the banner says where the token is:\n${stack.output()}`);
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    const token = stack.controlToken();
    assert.equal(stack.output().includes(token), false, 'the token is printed');
    type Instance = { n: number; pid: number };
    const pidOf1 = async () => (await stack.control<{ instances: Instance[] }>('/status')).instances[0]!.pid;
    const before = await pidOf1();
    const url = (path: string) => `http://127.0.0.1:${stack.ports.control}${path}`;
    const attack = '{"env":{"DEMO_USERS":"alice:chosen-by-the-attacker"}}';
    type Attempt = { method?: string; headers: Record<string, string>; body?: string; status: number };
    const attempts: Record<string, Attempt> = {
      // What a page on any site can send with fetch(..., { mode: 'no-cors' }) or a form: no preflight, no token.
      'a cross-site simple POST': { headers: { 'content-type': 'text/plain' }, status: 401 },
      'a GET of /status without a token': { method: 'GET', headers: {}, status: 401 },
      'a wrong token': { headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, status: 401 },
      'the token with a text/plain body': {
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
        status: 415,
      },
      // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1.
      'a foreign Host': {
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          host: `evil.example:${stack.ports.control}`,
        },
        status: 421,
      },
      'the token and NODE_OPTIONS': {
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"env":{"NODE_OPTIONS":"--import=data:text/javascript,process.exit(7)"}}',
        status: 400,
      },
      'the token and DEMO_USERS': {
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        status: 400,
      },
      'the token and a secret': {
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"env":{"SESSION_SECRET":"a-secret-the-attacker-knows-and-long-enough"}}',
        status: 400,
      },
    };
    for (const [name, { method = 'POST', headers, status, body = attack }] of Object.entries(attempts)) {
      const reply = await send(url(method === 'GET' ? '/status' : '/instances/1/restart'), {
        method,
        headers,
        agent: false,
        ...(method === 'GET' ? {} : { body }),
      });
      assert.equal(reply.status, status, `${name}: ${reply.status} ${reply.body}`);
    }
    assert.equal(await pidOf1(), before, 'instance 1 was not restarted');
    // The same caller with an allowed setting: restarted.
    const restarted = await stack.control<Instance>('/instances/1/restart', {
      method: 'POST',
      json: { env: { LOG_LEVEL: 'warn' } },
    });
    assert.notEqual(restarted.pid, before);

    stack.child.kill('SIGINT');
    assert.equal(await stack.exitCode, 0, stack.output());
    await stack.assertNothingLeft();
  });

  it("--redis sentinel › every Redis file (configs with passwords, AOF) and data dir is the owner's alone, also after a failover rewrote the configs", async (t) => {
    const stack = await runStack(t, { control: true });
    await stack.printed('[stack] ready:');
    type Node = { name: string; port: number; state: string; role?: string };
    const redis = async () => (await stack.control<{ redis: { nodes: Node[]; sentinels: Node[] } }>('/status')).redis;
    const killed = await stack.control<Node>('/redis/primary/kill', { method: 'POST' });
    await waitFor(
      'a replica promoted',
      async () => (await redis()).nodes.some((node) => node.role === 'primary' && node.name !== killed.name),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    // The Sentinels rewrite their configs with the new primary's port (CONFIG REWRITE), as they do the nodes'.
    const redisDir = join(stack.runDir, 'redis');
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? [join(dir, entry.name), ...files(join(dir, entry.name))] : [join(dir, entry.name)],
      );
    const sentinelConfigs = files(redisDir).filter((file) => file.endsWith('sentinel.conf'));
    assert.equal(sentinelConfigs.length, 3);
    const primaryPort = (await redis()).nodes.find((node) => node.role === 'primary')!.port;
    await waitFor(
      'every Sentinel config rewritten for the new primary',
      async () => sentinelConfigs.every((file) => readFileSync(file, 'utf8').includes(`127.0.0.1 ${primaryPort} `)),
      { timeoutMs: 15_000 },
    );
    const all = files(redisDir);
    assert.ok(
      all.some((file) => file.endsWith('.aof')),
      `AOF files among:\n${all.join('\n')}`,
    );
    assert.ok(all.some((file) => file.endsWith('node.conf')));
    const open = all
      .filter((file) => statSync(file).mode & 0o077)
      .map((file) => `${(statSync(file).mode & 0o777).toString(8)} ${file}`);
    assert.deepEqual(open, [], 'group or other may read these');

    stack.child.kill('SIGINT');
    assert.equal(await stack.exitCode, 0, stack.output());
    await stack.assertNothingLeft();
  });

  it('--control › POST /redis/switchover and /redis/rolling-restart: refused without the token; with it, the primary hands over to a replica (the old one now its replica), every Redis process restarted, and a login from before still recognised; /redis/pause freezes the Sentinels with the nodes (none left to start a failover onto a frozen replica) and /redis/resume thaws all', async (t) => {
    const stack = await runStack(t, { control: true });
    await stack.printed('[stack] ready:');
    type Node = { name: string; pid: number; state: string; role?: string };
    const redis = async () => (await stack.control<{ redis: { nodes: Node[]; sentinels: Node[] } }>('/status')).redis;
    const primaryName = async () => (await redis()).nodes.find((node) => node.role === 'primary')?.name;
    const baseUrl = `http://127.0.0.1:${stack.ports.nginx}`;
    const user = await login(baseUrl, 'alice', 'alice-password-1');
    const first = await primaryName();
    for (const path of ['/redis/switchover', '/redis/rolling-restart']) {
      const reply = await send(`http://127.0.0.1:${stack.ports.control}${path}`, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', authorization: 'Bearer nope' },
      });
      assert.equal(reply.status, 401, `${path} with a wrong token: ${reply.status} ${reply.body}`);
    }
    assert.equal(await primaryName(), first, 'nothing happened without the token');

    const switched = await stack.control<{ from: string; to: string }>('/redis/switchover', { method: 'POST' });
    assert.equal(switched.from, first);
    assert.notEqual(switched.to, first);
    const afterSwitch = await redis();
    assert.equal(afterSwitch.nodes.find((node) => node.name === switched.to)?.role, 'primary');
    assert.equal(afterSwitch.nodes.find((node) => node.name === first)?.role, 'replica');

    const pids = (group: { nodes: Node[]; sentinels: Node[] }) => [...group.nodes, ...group.sentinels].map((node) => node.pid);
    const rolled = await stack.control<{ switchover: { from: string; to: string }; restarted: { name: string }[] }>(
      '/redis/rolling-restart',
      { method: 'POST' },
    );
    assert.deepEqual(
      rolled.restarted.map((step) => step.name).slice(-1),
      [switched.to],
      'the primary of the start is restarted last',
    );
    assert.equal(rolled.restarted.length, 6);
    assert.equal(rolled.switchover.from, switched.to);
    const afterRoll = await redis();
    const before = pids(afterSwitch);
    assert.ok(
      pids(afterRoll).every((pid, i) => pid !== before[i]),
      'every node and Sentinel runs in a new process',
    );
    assert.equal(await primaryName(), rolled.switchover.to);
    const session = sessionOf(await send(`${baseUrl}/api/session`, { cookie: user.cookie }));
    assert.equal(session?.user?.username, 'alice');

    const states = (group: { nodes: Node[]; sentinels: Node[] }) =>
      [...group.nodes, ...group.sentinels].map((node) => `${node.name} ${node.state}`);
    const paused = await stack.control<{ nodes: Node[]; sentinels: Node[] }>('/redis/pause', { method: 'POST' });
    assert.deepEqual(
      states(paused),
      states(afterRoll).map((line) => line.replace(/ \w+$/, ' paused')),
    );
    const frozenRead = await send(`${baseUrl}/api/session`, { cookie: user.cookie });
    assert.equal(frozenRead.status, 503);
    const resumed = await stack.control<{ nodes: Node[]; sentinels: Node[] }>('/redis/resume', { method: 'POST' });
    assert.deepEqual(states(resumed), states(afterRoll));
    assert.equal(sessionOf(await send(`${baseUrl}/api/session`, { cookie: user.cookie }))?.user?.username, 'alice');

    stack.child.kill('SIGINT');
    assert.equal(await stack.exitCode, 0, stack.output());
    await stack.assertNothingLeft();
  });

  it("nginx › the app sees only a name and port nginx chose (an absolute-form request line with a forged Host and Origin, or a port the deployment is not reached on, is refused as cross-site); HTTP/0.9 gets no answer; Node's own 400 names the instance and headers nginx accepts pass; the access log has the path without its query", async (t) => {
    const stack = await runStack(t);
    await stack.printed('[stack] ready:');
    const { nginx } = stack.ports;
    const { jar, csrfToken } = await openLoginForm(`http://127.0.0.1:${nginx}`);
    const loginAs = (target: string, host: string, origin: string) => {
      const body = new URLSearchParams({ _csrf: csrfToken, username: 'alice', password: 'not-her-password' }).toString();
      return rawHttp(
        nginx,
        `POST ${target} HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${origin}\r\nCookie: ${jar.header()}\r\n` +
          `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    const served = `127.0.0.1:${nginx}`;
    // The token is good: from our own origin, the post reaches the password check.
    assert.match(await loginAs('/login', served, `http://${served}`), /^HTTP\/1\.1 401 /);
    // nginx picks the server by the request line's name; the app must not then see the forged Host.
    assert.match(await loginAs(`http://${served}/login`, 'evil.example', 'http://evil.example'), /^HTTP\/1\.1 403 /);
    assert.match(
      await loginAs(`http://${served}/login`, `evil.example:${nginx}`, `http://evil.example:${nginx}`),
      /^HTTP\/1\.1 403 /,
    );
    // A served name with a port this deployment is not reached on: the port is dropped, and the Origin no longer matches.
    assert.match(await loginAs('/login', '127.0.0.1:1234', 'http://127.0.0.1:1234'), /^HTTP\/1\.1 403 /);

    assert.equal(await rawHttp(nginx, 'GET /readyz\r\n'), '', 'an HTTP/0.9 request was answered');

    // What Node's parser refuses is answered like any other response, naming the instance; what nginx accepts, Node does too.
    const unknownMethod = await rawHttp(nginx, `FROB /readyz HTTP/1.1\r\nHost: ${served}\r\nConnection: close\r\n\r\n`);
    assert.match(unknownMethod, /^HTTP\/1\.1 400 /);
    assert.match(unknownMethod, /\r\nX-Instance-Id: app-\d\r\n/i);
    const bigHeaders = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`x-filler-${i}`, 'x'.repeat(6000)]));
    assert.equal((await send(`http://${served}/readyz`, { headers: bigHeaders, agent: false })).status, 200, '24 KB of headers');

    const probe = await send(`http://${served}/api/session?password=in-the-query-by-mistake`);
    await stack.printed(String(probe.headers['x-request-id']));
    const line = stack
      .output()
      .split('\n')
      .find((candidate) => candidate.includes(String(probe.headers['x-request-id'])))!;
    assert.equal((JSON.parse(line.replace(/^\[nginx\] /, '')) as { uri: string }).uri, '/api/session');
    assert.equal(stack.output().includes('in-the-query-by-mistake'), false, 'the query was logged');

    stack.child.kill('SIGINT');
    assert.equal(await stack.exitCode, 0, stack.output());
  });

  it('--redis cluster › six nodes, three primaries and three replicas; the primary of slot 0 killed, its replica takes over; Ctrl-C mid-cluster-creation and after leaves nothing', async (t) => {
    const early = await runStack(t, { cluster: true });
    await early.printed('[stack] starting redis (cluster');
    early.child.kill('SIGINT');
    assert.notEqual(await early.exitCode, null, 'the runner exited');
    await early.assertNothingLeft();

    const stack = await runStack(t, { control: true, cluster: true });
    await stack.printed('[stack] ready:');
    type Node = { name: string; port: number; pid?: number; state: string; role: string };
    const nodes = async () => (await stack.control<{ redis: { mode: string; nodes: Node[] } }>('/status')).redis;
    const before = await nodes();
    assert.equal(before.mode, 'cluster');
    assert.deepEqual(
      before.nodes.map((node) => node.port),
      [0, 1, 2, 3, 4, 5].map((i) => stack.ports.redis + i),
    );
    assert.deepEqual(before.nodes.map((node) => node.role).sort(), [
      'primary',
      'primary',
      'primary',
      'replica',
      'replica',
      'replica',
    ]);
    assert.equal((await fetch(`http://127.0.0.1:${stack.ports.nginx}/readyz`)).status, 200);

    const killed = await stack.control<Node & { slots: string }>('/redis/primary/kill', { method: 'POST' });
    assert.match(killed.slots, /^0-\d+$/, 'names the slots of the primary it killed');
    assert.equal(before.nodes.find((node) => node.name === killed.name)?.role, 'primary');
    // The cluster promotes the replica (cluster-node-timeout 3 s); slot 0 then has a live owner again.
    await waitFor(
      'a replica promoted in place of the killed primary',
      async () => (await nodes()).nodes.filter((node) => node.role === 'primary' && node.state === 'ready').length === 3,
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    // The node asked for slot 0's owner may not have heard of the promotion yet (a gossip round): it then names the
    // killed node, whose kill is a no-op, and the next ask names the promoted replica.
    const again = await waitFor(
      'slot 0 owned by the promoted replica',
      async () => {
        const node = await stack.control<Node & { slots: string }>('/redis/primary/kill', { method: 'POST' });
        return node.name !== killed.name && node;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    assert.notEqual(again.name, killed.name, 'slot 0 is owned by the promoted replica');

    const pids = before.nodes.map((node) => node.pid!);
    stack.child.kill('SIGINT');
    assert.equal(await stack.exitCode, 0, stack.output());
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `process ${pid} is still running`);
    await stack.assertNothingLeft();
  });

  // Each moment is one line the runner prints on its way up (or nginx taking connections, just before "ready").
  const moments: {
    name: string;
    signal: NodeJS.Signals;
    reached: (stack: Awaited<ReturnType<typeof runStack>>) => Promise<unknown>;
  }[] = [
    { name: 'Redis starting', signal: 'SIGINT', reached: (stack) => stack.printed('[stack] starting redis') },
    { name: 'the instances starting', signal: 'SIGINT', reached: (stack) => stack.printed('app instance(s) on ports') },
    { name: 'the instances starting', signal: 'SIGTERM', reached: (stack) => stack.printed('app instance(s) on ports') },
    { name: 'nginx starting', signal: 'SIGINT', reached: (stack) => stack.printed('[stack] starting nginx') },
    { name: 'nginx taking connections', signal: 'SIGINT', reached: (stack) => accepting(stack.ports.nginx) },
  ];
  for (const { name, signal, reached } of moments) {
    it(`${signal} while ${name} › the runner exits and leaves no process and no listening port`, async (t) => {
      const stack = await runStack(t);
      await reached(stack);
      stack.child.kill(signal);
      assert.notEqual(await stack.exitCode, null, 'the runner exited');
      await stack.assertNothingLeft();
    });
  }

  it('an instance dying during start › says which, exits 1, and leaves no process and no listening port', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-test-entry-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const entry = join(dir, 'dies-as-app-2.ts');
    // app-1 is the real app; app-2 dies at once, while the others are still starting.
    writeFileSync(
      entry,
      `if (process.env.INSTANCE_ID === 'app-2') process.exit(3);\nawait import(${JSON.stringify(join(repoRoot, 'app/src/server.ts'))});\n`,
    );
    const stack = await runStack(t, { env: { ...process.env, STACK_APP_ENTRY: entry } });
    assert.equal(await stack.exitCode, 1, stack.output());
    assert.match(stack.output(), /app-2: exited during start \(code 3\)/);
    await stack.assertNothingLeft();
  });

  it('a port already taken › says which, and how to find the holder, and exits 1', async (t) => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    t.after(() => blocker.close());
    const { port } = blocker.address() as { port: number };
    const stack = await runStack(t, { nginxPort: port });
    assert.equal(await stack.exitCode, 1);
    assert.match(stack.output(), new RegExp(`${port}`));
    assert.match(stack.output(), /ss -ltnp/);
  });

  it('redis-server or nginx missing › says which, with the command that installs them, and exits 1', async (t) => {
    // A PATH with Node only: no redis-server, no nginx.
    const stack = await runStack(t, { env: { PATH: dirname(process.execPath) } });
    assert.equal(await stack.exitCode, 1);
    assert.match(stack.output(), /redis-server.*not found/);
    assert.match(stack.output(), /sudo apt-get install -y redis-server nginx/);
  });
});
