// npm run bench (usage: npm run bench -- --help, or ./options.ts).
import { cpus } from 'node:os';
import { onStopSignal } from '../lib/on-stop-signal.ts';
import { connectAdmin, type AdminClient } from '../lib/redis.ts';
import { writeResults } from '../lib/results.ts';
import { loginAll } from '../lib/session-client.ts';
import type { Stack } from '../stack/start-stack.ts';
import { judgeGoals } from './goals.ts';
import { createMeasurer } from './measure.ts';
import { loadBenchOptions } from './options.ts';
import { infoField, sampleSessionBytes } from './redis-stats.ts';
import { benchReport } from './report.ts';
import { scaleStep } from './scale.ts';
import { runScenarios, userVariants } from './scenarios.ts';
import { bootTarget } from './target.ts';

const options = loadBenchOptions();
const { durationS, connections } = options;

let stack: Stack | undefined;
let admin: AdminClient | undefined;
const cleanUp = async () => {
  if (admin?.isOpen) admin.destroy();
  await stack?.stop();
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

  const measurer = createMeasurer({ baseUrl, admin, stack, durationS, connections });
  const variants = userVariants(loggedIn, users);
  const scenarios = await runScenarios(measurer, variants);
  const sessionBytes = admin ? await sampleSessionBytes(admin, 200) : undefined;
  const scale =
    admin && options.scaleSessions > 0 ? await scaleStep(admin, measurer, variants.reads, options.scaleSessions) : undefined;
  const goals = judgeGoals(scenarios, sessionBytes, scale, connections);

  const setup = `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, Redis ${redisVersion}; ${durationS}s per scenario, ${connections} connections; load generator on the same machine.`;
  console.log(benchReport({ setup, scenarios, sessionBytes, scale, goals }));
  const file = writeResults('bench', {
    machine: { ...machine, redis: redisVersion },
    baseUrl,
    durationS,
    connections,
    scenarios: scenarios.rows,
    ceilingRatio: scenarios.read.load.rps / scenarios.ceiling.load.rps,
    sessionBytes,
    scale,
    goals,
  });
  console.log(`[bench] results: ${file}`);
}

try {
  await main();
} catch (err) {
  console.error(`[bench] failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
