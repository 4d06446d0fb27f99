import { join } from 'node:path';
import { startChild } from '../lib/child.ts';
import { runPaths, repoRoot } from '../lib/paths.ts';
import { waitFor } from '../lib/poll.ts';
import { freePort } from '../lib/ports.ts';
import { CLOCK_TICKS_PER_S, readProcStat } from '../lib/proc-stat.ts';
import { ensureSecrets } from '../lib/secrets.ts';
import { printToStackLog } from '../stack/stack-log.ts';
import type { Stack } from '../stack/start-stack.ts';
import type { Goal } from './report.ts';
import { median } from './compare.ts';
import { runWrk } from './wrk.ts';

const VARIANTS = [
  'node:http, the read alone (ceiling)',
  'Express 5, the read as its one route',
  'the app, one instance',
] as const;
type Variant = (typeof VARIANTS)[number];
type Run = { rps: number; p99Ms: number; errors: number; cpuPerRequest: number };

/** The connections of the ceiling's runs: enough to keep one process busy, few enough that wrk leaves it a core. */
const CONNECTIONS = 16;

/**
 * One app instance against the ceiling (tools/bench/ceiling/server.ts: the same read with nothing but node:http, and
 * with Express 5 alone), one process each on the same TLS Redis, driven straight at its port by wrk (-t2 -c16) in
 * interleaved rounds; the CPU of that one process per request, from /proc. The requests carry the X-Request-Id nginx
 * would add (the app makes one otherwise).
 */
export async function compareWithCeiling({
  stack,
  cookies,
  rounds,
  durationS,
}: {
  stack: Stack;
  cookies: string[];
  rounds: number;
  durationS: number;
}) {
  const { runDir } = stack.status();
  const secrets = ensureSecrets(runPaths(runDir).secrets);
  const print = printToStackLog(runDir);
  const servers = await Promise.all(
    (['http', 'express'] as const).map(async (framework) => {
      const port = await freePort();
      const child = startChild({
        name: `ceiling-${framework}`,
        command: process.execPath,
        args: [join(repoRoot, 'tools/bench/ceiling/server.ts')],
        env: {
          ...process.env,
          PORT: String(port),
          CEILING_FRAMEWORK: framework,
          CEILING_REDIS_URL: stack.urls.redisApp,
          SESSION_SECRET_FILE: secrets.sessionSecretFile,
          NODE_EXTRA_CA_CERTS: secrets.redisCaFile,
        },
        print,
        onUnexpectedExit: (info) => print(`[ceiling-${framework}] exited unexpectedly (${info.code ?? info.signal})`),
      });
      return { url: `http://127.0.0.1:${port}`, child };
    }),
  );
  try {
    for (const { url, child } of servers) {
      await child.spawned;
      await waitFor(`${url} answering`, async () => (await fetch(url).catch(() => undefined)) !== undefined, {
        timeoutMs: 15_000,
        failIf: () => (child.isRunning() ? undefined : 'exited'),
      });
    }
    const app = stack.status().instances[0]!;
    const targets: Record<Variant, { url: string; pid: () => number | undefined }> = {
      'node:http, the read alone (ceiling)': { url: servers[0]!.url, pid: () => servers[0]!.child.pid },
      'Express 5, the read as its one route': { url: servers[1]!.url, pid: () => servers[1]!.child.pid },
      'the app, one instance': { url: app.url, pid: () => stack.status().instances[0]!.pid },
    };
    const runs = Object.fromEntries(VARIANTS.map((variant) => [variant, [] as Run[]])) as Record<Variant, Run[]>;
    const cpuMicros = (pid: number | undefined) => ((pid && readProcStat(pid)?.cpuTicks) || 0) * (1_000_000 / CLOCK_TICKS_PER_S);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const variant = VARIANTS[(round + k) % VARIANTS.length]!;
        const { url, pid } = targets[variant];
        const before = cpuMicros(pid());
        const load = await runWrk({
          url,
          path: '/api/session',
          cookies,
          connections: CONNECTIONS,
          durationS,
          headers: { 'X-Request-Id': 'bench-ceiling' },
        });
        const cpuPerRequest = (cpuMicros(pid()) - before) / load.responses;
        runs[variant].push({ rps: load.rps, p99Ms: load.p99Ms, errors: load.errors, cpuPerRequest });
        console.log(
          `[bench] ceiling round ${round + 1}, ${variant}: ${Math.round(load.rps)} req/s, ${cpuPerRequest.toFixed(0)} µs/req`,
        );
      }
    }
    const at = (variant: Variant, i: number) => runs[variant][i]!;
    const perRound = (f: (i: number) => number) => median(Array.from({ length: rounds }, (_, i) => f(i)));
    const ceiling = VARIANTS[0];
    return {
      rounds,
      durationS,
      connections: CONNECTIONS,
      medians: Object.fromEntries(
        VARIANTS.map((variant) => {
          const of = (f: (run: Run) => number) => median(runs[variant].map(f));
          const errors = runs[variant].reduce((sum, run) => sum + run.errors, 0);
          return [
            variant,
            { rps: of((run) => run.rps), p99Ms: of((run) => run.p99Ms), errors, cpuPerRequest: of((run) => run.cpuPerRequest) },
          ];
        }),
      ) as Record<Variant, Run>,
      /** CPU per request over the ceiling's, median of the per-round ratios. */
      ratios: {
        express: perRound((i) => at('Express 5, the read as its one route', i).cpuPerRequest / at(ceiling, i).cpuPerRequest),
        app: perRound((i) => at('the app, one instance', i).cpuPerRequest / at(ceiling, i).cpuPerRequest),
      },
    };
  } finally {
    await Promise.all(servers.map(({ child }) => child.stop('SIGTERM', 5_000)));
  }
}

export type CeilingComparison = Awaited<ReturnType<typeof compareWithCeiling>>;

export function ceilingTable({ medians, ratios, rounds, durationS, connections }: CeilingComparison): string {
  const lines = [
    `The ceiling: one process each, on the same TLS Redis, driven straight at its port (no nginx): ${rounds} interleaved rounds of ${durationS} s, wrk -t2 -c${connections}, logged-in GET /api/session; medians. CPU of that process only.`,
    '',
    '| Server | req/s | p99 ms | errors | CPU µs/req | × the ceiling |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const times = [1, ratios.express, ratios.app];
  Object.entries(medians).forEach(([name, run], i) => {
    lines.push(
      `| ${name} | ${Math.round(run.rps)} | ${run.p99Ms.toFixed(2)} | ${run.errors} | ${Math.round(run.cpuPerRequest)} | ${times[i]!.toFixed(2)} |`,
    );
  });
  const [bare, framework, app] = Object.values(medians).map((run) => run.cpuPerRequest);
  lines.push(
    '',
    `Of the app's ${Math.round(app!)} µs, Express's routing and response (the second row over the first) is ${Math.round(framework! - bare!)} µs and the app's own middleware (security headers, metrics, request id, the reads' checks, the store's deadline and absolute timeout, the duplicate-cookie handling; the third row over the second) ${Math.round(app! - framework!)} µs.`,
  );
  return lines.join('\n');
}

export const ceilingGoals = ({ ratios }: CeilingComparison): Goal[] => [
  {
    goal: 'one app instance ≤ 1.5 × the ceiling’s CPU per logged-in read (node:http doing the same read)',
    measured: `${ratios.app.toFixed(2)} × (Express alone: ${ratios.express.toFixed(2)} ×)`,
    met: ratios.app <= 1.5,
  },
];
