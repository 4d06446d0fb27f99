// npm run bench:cluster: logged-in read throughput, Redis CPU per request and sessions per GiB, one Redis node
// against a Redis Cluster (three primaries, three replicas), each on a fresh stack of its own, one after the other.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, createCluster } from 'redis';
import { parseCommandLine } from '../lib/command-line.ts';
import { makeUsers } from '../lib/demo-users.ts';
import { repoRoot } from '../lib/paths.ts';
import { ADMIN_COMMAND_TIMEOUT_MS, redisUrl } from '../lib/redis.ts';
import { CLOCK_TICKS_PER_S, readProcStat } from '../lib/proc-stat.ts';
import { writeResults } from '../lib/results.ts';
import { loginAll } from '../lib/session-client.ts';
import { printToStackLog } from '../stack/stack-log.ts';
import { startStack, type Stack } from '../stack/start-stack.ts';
import { runLoad } from './load.ts';

const usage = `Usage: npm run bench:cluster -- [--duration S (10)] [--users N (40)] [--sessions N (100000)]`;
const { integer } = parseCommandLine(
  { command: 'bench:cluster', usage },
  {
    duration: { type: 'string', default: '10' },
    users: { type: 'string', default: '40' },
    sessions: { type: 'string', default: '100000' },
  },
  process.argv.slice(2),
);
const [durationS, userCount, sessions] = [integer('duration'), integer('users'), integer('sessions')];
const runDir = join(repoRoot, '.run/bench-cluster');

/** CPU (user + system) of every session Redis node so far, in µs, from /proc. */
const redisCpuMicros = (stack: Stack) =>
  (stack
    .status()
    .redis.nodes.map((node) => (node.pid === undefined ? 0 : (readProcStat(node.pid)?.cpuTicks ?? 0)))
    .reduce((sum, ticks) => sum + ticks, 0) *
    1_000_000) /
  CLOCK_TICKS_PER_S;

/** The admin user's view of the data: the one node, or the whole cluster (commands routed by slot). */
async function adminClient(stack: Stack) {
  const url = new URL(stack.urls.redisAdmin);
  const socket = { tls: true as const, ca: readFileSync(stack.redisCaFile) };
  const credentials = {
    username: 'admin',
    password: decodeURIComponent(url.password),
    commandOptions: { timeout: ADMIN_COMMAND_TIMEOUT_MS },
  };
  const client =
    stack.redis.mode === 'cluster'
      ? createCluster({
          rootNodes: [{ socket: { host: '127.0.0.1', port: Number(url.port), ...socket } }],
          defaults: { ...credentials, socket, maintNotifications: 'disabled' },
        })
      : createClient({
          ...credentials,
          socket: { host: '127.0.0.1', port: Number(url.port), ...socket },
          maintNotifications: 'disabled',
        });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** used_memory summed over the primaries (replicas hold copies: the same in both topologies). */
async function primaryMemory(stack: Stack) {
  let bytes = 0;
  for (const node of stack.status().redis.nodes) {
    const client = createClient({
      url: redisUrl('admin', decodeURIComponent(new URL(stack.urls.redisAdmin).password), node.port, { tls: true }),
      socket: { tls: true, ca: readFileSync(stack.redisCaFile) },
      maintNotifications: 'disabled',
    });
    client.on('error', () => {});
    await client.connect();
    const info = await client.info();
    if (info.includes('role:master')) bytes += Number(/used_memory:(\d+)/.exec(info)?.[1]);
    client.destroy();
  }
  return bytes;
}

async function measure(mode: 'single' | 'cluster') {
  const { users, demoUsers } = makeUsers('bench', userCount);
  const stack = await startStack({
    redis: mode,
    catalog: false,
    fresh: true,
    nginxPort: 28180,
    // Below 22768: the cluster bus (+10000) stays out of the ephemeral range (32768..), where outgoing connections take ports.
    redisPort: 21580,
    appBasePort: 23100,
    runDir,
    env: { ...process.env, DEMO_USERS: demoUsers },
    print: printToStackLog(runDir),
    outputFile: join(runDir, 'children.log'),
  });
  try {
    const loggedIn = await loginAll(stack.urls.nginx, users);
    const variants = loggedIn.map((user) => ({ headers: { cookie: user.cookie } }));
    const cpuBefore = redisCpuMicros(stack);
    const load = await runLoad({
      url: stack.urls.nginx,
      method: 'GET',
      path: '/api/session',
      connections: 32,
      durationS,
      variants,
    });
    const redisCpuUsPerRead = (redisCpuMicros(stack) - cpuBefore) / load.responses;
    const memoryBefore = await primaryMemory(stack);
    const admin = await adminClient(stack);
    const loginAt = Date.now();
    for (let start = 0; start < sessions; start += 5_000) {
      const writes: Promise<unknown>[] = [];
      for (let i = start; i < Math.min(sessions, start + 5_000); i++)
        writes.push(
          admin.set(
            `sess:{bench${i % 4096}}${String(i).padStart(20, '0')}`,
            JSON.stringify({ user: { username: `user-${i}` }, loginAt }),
            {
              expiration: { type: 'EX', value: 1800 },
            },
          ),
        );
      await Promise.all(writes);
    }
    const bytesPerSession = ((await primaryMemory(stack)) - memoryBefore) / sessions;
    admin.destroy();
    const row = {
      mode,
      rps: Math.round(load.rps),
      p99Ms: load.p99Ms,
      errors: load.errors,
      redisCpuUsPerRead: Number(redisCpuUsPerRead.toFixed(2)),
      bytesPerSession: Math.round(bytesPerSession),
      sessionsPerGiB: Math.round(2 ** 30 / bytesPerSession),
    };
    console.log(`[bench:cluster] ${JSON.stringify(row)}`);
    return row;
  } finally {
    await stack.stop();
  }
}

const rows = [await measure('single'), await measure('cluster')];
console.log(
  [
    '| Session Redis | Logged-in reads/s | p99 | Errors | Redis CPU per read | Bytes per session (primaries) | Sessions per GiB |',
    '|---|--:|--:|--:|--:|--:|--:|',
    ...rows.map(
      (row) =>
        `| ${row.mode === 'single' ? 'one node' : 'cluster (3 primaries + 3 replicas)'} | ${row.rps} | ${row.p99Ms.toFixed(1)} ms | ${row.errors} | ${row.redisCpuUsPerRead} µs | ${row.bytesPerSession} | ${row.sessionsPerGiB.toLocaleString('en')} |`,
    ),
  ].join('\n'),
);
console.log(`[bench:cluster] results: ${writeResults('bench-cluster', { durationS, users: userCount, sessions, rows })}`);
