// npm run bench: throughput, latency, Redis commands and memory per session, through nginx, on loopback.
//   npm run bench                              boots its own stack (nginx 18480, redis 16480, apps 13401.., .run/bench)
//   npm run bench -- --duration 2              seconds per load scenario (default 8)
//   npm run bench -- --sessions 0              skip the 1M-session scale step
//   npm run bench -- --url http://127.0.0.1:8080 --login-users alice:alice-password-1 [--redis-admin-url redis://...]
//                                              measures a running stack (no scale step; Redis figures need the admin URL)
// Prints markdown tables and writes results/bench-<timestamp>.json. Exits 0 whether or not the goals are met.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DEMO_USERS, makeUsers, parseUsers } from '../lib/demo-users.ts';
import { repoRoot } from '../lib/paths.ts';
import { CLOCK_TICKS_PER_S, readProcStat } from '../lib/proc-stat.ts';
import { connectAdmin, type AdminClient } from '../lib/redis.ts';
import { loginAll } from '../lib/session-client.ts';
import { printToStackLog, startStack, type Stack } from '../stack/start-stack.ts';
import { runLoad, type LoadResult, type LoadSpec } from './load.ts';
import { commandDelta, infoField, sampleSessionBytes, settledCommandCounts, totalCommands, usedMemory } from './redis-stats.ts';
import { formatMs, goalTable, scenarioTable, type Goal, type ScenarioRow } from './report.ts';
import { addSyntheticSessions, removeSyntheticSessions } from './scale.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '32' },
    users: { type: 'string', default: '50' },
    sessions: { type: 'string', default: '1000000' },
    instances: { type: 'string', default: '3' },
    'nginx-port': { type: 'string', default: '18480' },
    'redis-port': { type: 'string', default: '16480' },
    'app-base-port': { type: 'string', default: '13400' },
    'run-dir': { type: 'string', default: join(repoRoot, '.run/bench') },
    url: { type: 'string' },
    'login-users': { type: 'string', default: DEFAULT_DEMO_USERS },
    'redis-admin-url': { type: 'string' },
  },
});
const positive = (name: keyof typeof args, min = 1) => {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name}: expected an integer >= ${min}, got "${args[name]}"`);
  return value;
};
const durationS = positive('duration');
const connections = positive('connections');
const scaleSessions = args.url ? 0 : positive('sessions', 0);
const runDir = resolve(args['run-dir']);

let stack: Stack | undefined;
let admin: AdminClient | undefined;
const cleanUp = async () => {
  if (admin?.isOpen) admin.destroy();
  await stack?.stop();
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`[bench] ${signal}: stopping`);
    void cleanUp().finally(() => process.exit(130));
  });
}

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version };
console.log(
  `[bench] ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; ${durationS}s per scenario, ${connections} connections`,
);

async function boot() {
  if (args.url) {
    const users = parseUsers(args['login-users']);
    return { baseUrl: args.url.replace(/\/$/, ''), users, adminUrl: args['redis-admin-url'] };
  }
  const { users, demoUsers } = makeUsers('bench', positive('users'));
  stack = await startStack({
    instances: positive('instances'),
    nginxPort: positive('nginx-port'),
    redisPort: positive('redis-port'),
    appBasePort: positive('app-base-port'),
    runDir,
    env: { ...process.env, DEMO_USERS: demoUsers },
    print: printToStackLog(runDir),
  });
  return { baseUrl: stack.urls.nginx, users, adminUrl: stack.urls.redisAdmin };
}

/**
 * CPU time (user + system) used so far by the app instances, in µs, from /proc: unlike req/s it barely moves when
 * other work shares the machine, so it shows what a request costs the app itself. Undefined with --url or off Linux.
 */
function appCpuMicros(): number | undefined {
  const pids = stack?.status().instances.map((instance) => instance.pid);
  if (!pids || pids.some((pid) => pid === undefined)) return undefined;
  const stats = pids.map((pid) => (pid === undefined ? undefined : readProcStat(pid)));
  if (stats.some((stat) => stat === undefined)) return undefined;
  const ticks = stats.reduce((sum, stat) => sum + (stat?.cpuTicks ?? 0), 0);
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_S;
}

/** One load run, with the Redis commands it caused (INFO commandstats before and after) and the app CPU it cost. */
async function measure(
  name: string,
  spec: Omit<LoadSpec, 'url' | 'durationS' | 'connections'> & Partial<LoadSpec>,
  baseUrl: string,
) {
  const before = admin && (await settledCommandCounts(admin));
  const cpuBefore = appCpuMicros();
  const load = await runLoad({ url: baseUrl, durationS, connections, ...spec });
  const cpuAfter = appCpuMicros();
  const commands = before && admin ? commandDelta(before, await settledCommandCounts(admin)) : undefined;
  const row: ScenarioRow = {
    name,
    load,
    ...(commands ? { commands, commandsPerRequest: totalCommands(commands) / load.responses } : {}),
    ...(cpuBefore !== undefined && cpuAfter !== undefined ? { appCpuUsPerRequest: (cpuAfter - cpuBefore) / load.responses } : {}),
  };
  console.log(`[bench] ${name}: ${Math.round(load.rps)} req/s, p99 ${formatMs(load.p99Ms)} ms, ${load.errors} errors`);
  return row;
}

/** Same small, fixed-rate load of logged-in reads, for comparing session counts. */
const smallReadLoad = (baseUrl: string, variants: LoadSpec['variants']) =>
  runLoad({ url: baseUrl, method: 'GET', path: '/api/session', connections: 8, overallRate: 500, durationS, variants });

async function main() {
  const { baseUrl, users, adminUrl } = await boot();
  if (adminUrl) admin = await connectAdmin(adminUrl);
  const redisVersion = admin ? await infoField(admin, 'server', 'redis_version') : 'unknown';
  const loggedIn = await loginAll(baseUrl, users);
  console.log(`[bench] ${loggedIn.length} users logged in through ${baseUrl}`);

  const reads = loggedIn.map((user) => ({ headers: { cookie: user.cookie } }));
  const form = (user: (typeof loggedIn)[number], fields: Record<string, string>) => ({
    headers: { cookie: user.cookie },
    body: new URLSearchParams({ ...fields, _csrf: user.csrfToken }).toString(),
  });
  // Each user alternates dark and light, so every POST changes the session and is written (resave: false skips no-ops).
  const writes = [
    ...loggedIn.map((user) => form(user, { theme: 'dark' })),
    ...loggedIn.map((user) => form(user, { theme: 'light' })),
  ];
  const logins = loggedIn.map((user, i) => ({
    headers: { cookie: user.csrfCookie },
    body: new URLSearchParams({ username: user.username, password: users[i]?.password ?? '', _csrf: user.csrfToken }).toString(),
  }));

  const ceiling = await measure('GET /healthz (ceiling)', { method: 'GET', path: '/healthz', variants: [{}] }, baseUrl);
  const anonymous = await measure(
    'GET /api/session, anonymous',
    { method: 'GET', path: '/api/session', variants: [{}] },
    baseUrl,
  );
  const read = await measure('GET /api/session, logged in', { method: 'GET', path: '/api/session', variants: reads }, baseUrl);
  const write = await measure(
    'POST /preferences (session write)',
    { method: 'POST', path: '/preferences', variants: writes },
    baseUrl,
  );
  // Logins are CPU-bound (argon2id): a few connections saturate them, and few are left queued when the run stops.
  const loginRow = await measure(
    'POST /login (argon2id)',
    { method: 'POST', path: '/login', variants: logins, connections: 4 },
    baseUrl,
  );
  const halfRate = Math.max(1, Math.round(read.load.rps / 2));
  const half = await measure(
    `GET /api/session, logged in, at ${halfRate} req/s (half)`,
    { method: 'GET', path: '/api/session', variants: reads, overallRate: halfRate },
    baseUrl,
  );
  const rows = [ceiling, anonymous, read, write, loginRow, half];

  const sessionBytes = admin ? await sampleSessionBytes(admin, 200) : undefined;
  const scale = admin && scaleSessions > 0 ? await scaleStep(admin, baseUrl, reads) : undefined;

  const ratio = read.load.rps / ceiling.load.rps;
  const goals: Goal[] = [
    {
      goal: 'logged-in reads ≥ 0.85 × ceiling',
      measured: `${ratio.toFixed(2)} × (${Math.round(read.load.rps)} / ${Math.round(ceiling.load.rps)} req/s)`,
      met: ratio >= 0.85,
    },
  ];
  if (read.commandsPerRequest !== undefined && anonymous.commandsPerRequest !== undefined) {
    goals.push(
      {
        goal: '≤ 1.0 Redis command per logged-in read',
        measured: read.commandsPerRequest.toFixed(3),
        // Requests in flight when a run stops reach Redis but are not counted: at most one per connection.
        met: read.commandsPerRequest <= 1 + connections / read.load.responses,
      },
      {
        goal: '0 Redis commands per anonymous request',
        measured: anonymous.commandsPerRequest.toFixed(3),
        met: anonymous.commandsPerRequest === 0,
      },
    );
  }
  if (sessionBytes) {
    goals.push({
      goal: '≤ 200 bytes per stored session (MEMORY USAGE)',
      measured: `${Math.round(sessionBytes.bytesPerKey)} B`,
      met: sessionBytes.bytesPerKey <= 200,
    });
  }
  goals.push({
    goal: 'p99 at half the saturating rate < 10 ms',
    measured: `${formatMs(half.load.p99Ms)} ms`,
    met: half.load.p99Ms < 10,
  });
  if (scale) {
    const { small, large } = scale;
    const met = large.p99Ms <= Math.max(1.5 * small.p99Ms, small.p99Ms + 1);
    goals.push({
      goal: 'latency with 1M sessions ≈ 1k (p99 ≤ max(1.5×, +1 ms))',
      measured: `p50 ${formatMs(small.p50Ms)} → ${formatMs(large.p50Ms)} ms, p99 ${formatMs(small.p99Ms)} → ${formatMs(large.p99Ms)} ms`,
      met,
    });
  }

  const output = [
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, Redis ${redisVersion}; ${durationS}s per scenario, ${connections} connections; load generator on the same machine.`,
    '',
    scenarioTable(rows),
    '',
    `Logged-in reads ÷ anonymous: ${(read.load.rps / anonymous.load.rps).toFixed(2)} (the Redis round trip and session decoding); anonymous ÷ ceiling: ${(anonymous.load.rps / ceiling.load.rps).toFixed(2)} (middleware and request logging, no Redis).`,
    'App CPU µs/req: CPU time of the app instances (from /proc) divided by responses; steady when other work shares the machine, unlike req/s.',
    'Socket errors: read ECONNRESET when nginx closes a client keep-alive connection (keepalive_requests) after autocannon already wrote the next request; details in the JSON.',
    '',
    sessionBytes
      ? `Stored session: ${Math.round(sessionBytes.bytesPerKey)} B per key (MEMORY USAGE, ${sessionBytes.keys} keys sampled), value ${Math.round(sessionBytes.valueBytes)} B. Plain connect-redis, for comparison: 2 commands per read (GET + EXPIRE from touch) and the cookie stored in every value.`
      : 'Redis figures: n/a (no --redis-admin-url).',
  ];
  if (scale) {
    output.push(
      '',
      '| Sessions in Redis | req/s | p50 ms | p99 ms | errors |',
      '|---:|---:|---:|---:|---:|',
      `| ${scale.smallCount.toLocaleString('en')} | ${Math.round(scale.small.rps)} | ${formatMs(scale.small.p50Ms)} | ${formatMs(scale.small.p99Ms)} | ${scale.small.errors} |`,
      `| ${scale.largeCount.toLocaleString('en')} | ${Math.round(scale.large.rps)} | ${formatMs(scale.large.p50Ms)} | ${formatMs(scale.large.p99Ms)} | ${scale.large.errors} |`,
      '',
      `Redis used_memory: ${mb(scale.memoryBefore)} → ${mb(scale.memoryAfter)} for ${scale.added.toLocaleString('en')} sessions added: ${Math.round(scale.bytesPerSession)} B per session (incl. the expiry entry); loaded in ${scale.loadS.toFixed(1)} s.`,
    );
  }
  output.push('', goalTable(goals), '');
  console.log(output.join('\n'));

  const resultsDir = join(repoRoot, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const result = {
    machine: { ...machine, redis: redisVersion },
    baseUrl,
    durationS,
    connections,
    scenarios: rows,
    ceilingRatio: ratio,
    sessionBytes,
    scale,
    goals,
  };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`[bench] results: ${file}`);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** The same small read load with ~1k and with ~1M sessions in Redis; the synthetic sessions are removed afterwards. */
async function scaleStep(client: AdminClient, baseUrl: string, reads: LoadSpec['variants']) {
  const existing = await client.dbSize();
  const smallCount = Math.max(1000, existing);
  await addSyntheticSessions(client, 0, smallCount - existing);
  const small = await smallReadLoad(baseUrl, reads);
  console.log(`[bench] ${smallCount} sessions: p50 ${formatMs(small.p50Ms)} ms, p99 ${formatMs(small.p99Ms)} ms`);

  const memoryBefore = await usedMemory(client);
  const started = performance.now();
  const largeCount = Math.max(scaleSessions, smallCount);
  await addSyntheticSessions(client, smallCount - existing, largeCount - existing);
  const loadS = (performance.now() - started) / 1000;
  const memoryAfter = await usedMemory(client);
  const added = largeCount - smallCount;
  console.log(`[bench] ${largeCount} sessions in Redis (${added} added in ${loadS.toFixed(1)} s)`);
  let large: LoadResult;
  try {
    large = await smallReadLoad(baseUrl, reads);
    console.log(`[bench] ${largeCount} sessions: p50 ${formatMs(large.p50Ms)} ms, p99 ${formatMs(large.p99Ms)} ms`);
  } finally {
    await removeSyntheticSessions(client, largeCount - existing);
  }
  return {
    smallCount,
    largeCount,
    small,
    large,
    memoryBefore,
    memoryAfter,
    added,
    bytesPerSession: (memoryAfter - memoryBefore) / Math.max(1, added),
    loadS,
  };
}

try {
  await main();
} catch (err) {
  console.error(`[bench] failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
