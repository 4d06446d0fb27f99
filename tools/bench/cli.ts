// npm run bench (usage: npm run bench -- --help, or ./options.ts).
import { cpus } from 'node:os';
import { onStopSignal } from '../lib/on-stop-signal.ts';
import { connectAdmin, type AdminClient } from '../lib/redis.ts';
import { writeReport, writeResults } from '../lib/results.ts';
import { loginAll } from '../lib/session-client.ts';
import type { Stack } from '../stack/start-stack.ts';
import { catalogGoals, catalogTable, compareCatalog } from './catalog.ts';
import { bootMemcachedTarget, compareEngines } from './cache-engines.ts';
import { engineTable } from './cache-engines-report.ts';
import { ceilingGoals, ceilingTable, compareWithCeiling } from './ceiling.ts';
import { compareWithNaive } from './compare.ts';
import { comparisonGoals, comparisonTable } from './compare-report.ts';
import { judgeGoals } from './goals.ts';
import { writePerformanceFigures } from './performance-doc.ts';
import { createMeasurer } from './measure.ts';
import { loadBenchOptions } from './options.ts';
import { infoField, sampleSessionBytes } from './redis-stats.ts';
import { benchReport } from './report.ts';
import { scaleStep } from './scale.ts';
import { expectLoggedIn, runScenarios, userVariants } from './scenarios.ts';
import { bootNaiveTarget, type NaiveRedis } from './naive-target.ts';
import { bootTarget } from './target.ts';

const options = loadBenchOptions();
const { durationS, connections } = options;

let stack: Stack | undefined;
/** The naive stacks while they run, each with what stops what it started besides the stack (a plain Redis). */
const naiveStacks = new Set<{ stack: Stack; stopOthers: () => Promise<void> }>();
const stopNaive = () =>
  Promise.all(
    [...naiveStacks].map(async (naive) => {
      naiveStacks.delete(naive);
      await naive.stack.stop();
      await naive.stopOthers();
    }),
  );
let memcachedStack: Stack | undefined;
let admin: AdminClient | undefined;
const cleanUp = async () => {
  if (admin?.isOpen) admin.destroy();
  await Promise.all([stack?.stop(), stopNaive(), memcachedStack?.stop()]);
};
onStopSignal('bench', cleanUp);

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version };
console.log(
  `[bench] ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; ${durationS}s per scenario, ${connections} connections`,
);

async function main() {
  const target = await bootTarget(options, (started) => (stack = started));
  const { baseUrl, users } = target;
  if (target.adminUrl) admin = await connectAdmin(target.adminUrl);
  const redisVersion = admin ? await infoField(admin, 'server', 'redis_version') : 'unknown';
  const loggedIn = await loginAll(baseUrl, users);
  console.log(`[bench] ${loggedIn.length} users logged in through ${baseUrl}`);

  // First, on a fresh machine state: the comparison is the figure a user chooses by.
  const comparison =
    stack && target.adminUrl && options.rounds > 0
      ? await sideBySide(
          stack,
          loggedIn.map((user) => user.cookie),
          target.adminUrl,
        )
      : undefined;
  const ceiling =
    stack && options.rounds > 0
      ? await compareWithCeiling({ stack, cookies: loggedIn.map((user) => user.cookie), rounds: options.rounds, durationS })
      : undefined;
  const measurer = createMeasurer({ baseUrl, admin, stack, durationS, connections });
  const variants = userVariants(loggedIn, users);
  const scenarios = await runScenarios(measurer, variants, async () => userVariants(await loginAll(baseUrl, users), users).reads);
  const sessionBytes = admin ? await sampleSessionBytes(admin, 200) : undefined;
  const scale =
    admin && options.scaleSessions > 0 ? await scaleStep(admin, measurer, scenarios.readers, options.scaleSessions) : undefined;
  await expectLoggedIn(baseUrl, scenarios.readers);
  // The catalogue's side by side: with and without its cache (needs the bench's own stack, which runs it).
  const catalog = stack?.catalog
    ? await compareCatalog(stack, { durationS, rounds: Math.min(2, Math.max(1, options.rounds)) })
    : undefined;
  const engines = stack?.catalog ? await engineSideBySide(stack, Math.min(3, Math.max(1, options.rounds))) : undefined;
  const goals = [
    ...(comparison ? comparisonGoals(comparison) : []),
    ...(ceiling ? ceilingGoals(ceiling) : []),
    ...judgeGoals(scenarios, sessionBytes, scale, connections),
    ...(catalog ? catalogGoals(catalog) : []),
  ];

  const setup = `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, Redis ${redisVersion}; ${durationS}s per scenario, ${connections} connections; load generator on the same machine.`;
  const report = [
    comparison ? comparisonTable(comparison) : '',
    ceiling ? ceilingTable(ceiling) : '',
    catalog ? catalogTable(catalog) : '',
    engines ? engineTable(engines) : '',
    benchReport({ setup, scenarios, sessionBytes, scale, goals }),
  ]
    .filter(Boolean)
    .join('\n\n');
  console.log(report);
  console.log(`[bench] tables: ${writeReport('bench', report)}`);
  if (options.writeDocs) {
    writePerformanceFigures(report, `npm run bench -- ${process.argv.slice(2).join(' ')}`);
    console.log('[bench] docs/performance.md: the bench block now shows this run');
  }
  const file = writeResults('bench', {
    machine: { ...machine, redis: redisVersion },
    baseUrl,
    durationS,
    connections,
    scenarios: scenarios.rows,
    comparison,
    ceiling,
    sessionBytes,
    scale,
    catalog,
    engines,
    goals,
  });
  console.log(`[bench] results: ${file}`);
}

/** The naive stacks beside the project's, as many users logged in, then the interleaved rounds; then they stop. */
async function sideBySide(project: Stack, cookies: string[], adminUrl: string) {
  const boot = (redis: NaiveRedis) =>
    bootNaiveTarget(options, cookies.length, redis, (started, stopOthers) => naiveStacks.add({ stack: started, stopOthers }));
  const naivePlain = await boot('plain');
  const naiveTls = await boot('tls');
  console.log(
    `[bench] naive stacks (connect-redis README setup) on ${naivePlain.stack.urls.nginx} (plain Redis) and ${naiveTls.stack.urls.nginx} (TLS Sentinel group)`,
  );
  const comparison = await compareWithNaive({
    project: { stack: project, cookies, adminUrl },
    naivePlain,
    naiveTls,
    rounds: options.rounds,
    durationS,
    connections,
  });
  await stopNaive();
  return comparison;
}

/** The catalogue on memcached in a stack beside the bench's (whose cache is Redis), the interleaved rounds; then it stops. */
async function engineSideBySide(redis: Stack, rounds: number) {
  const memcached = await bootMemcachedTarget(options, (started) => (memcachedStack = started));
  console.log(`[bench] memcached stack (CACHE_ENGINE=memcached, three nodes) on ${memcached.urls.nginx}`);
  const comparison = await compareEngines({ redis, memcached, durationS, connections, rounds });
  await memcachedStack?.stop();
  memcachedStack = undefined;
  return comparison;
}

try {
  await main();
} catch (err) {
  console.error(`[bench] failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
