import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseCommandLine } from '../lib/command-line.ts';
import { makeUsers } from '../lib/demo-users.ts';
import { onStopSignal } from '../lib/on-stop-signal.ts';
import { repoRoot } from '../lib/paths.ts';
import { createFirewall, inPrivateNetwork } from '../lib/private-network.ts';
import { writeResults } from '../lib/results.ts';
import { loginAll } from '../lib/session-client.ts';
import { printToStackLog } from '../stack/stack-log.ts';
import { startStack, type Stack } from '../stack/start-stack.ts';
import { publishRun } from './chaos-doc.ts';
import { check, checkTable, failedChecks, type Check } from './checks.ts';
import { startLoadLoop, type LoadLoop } from './load-loop.ts';
import { clientLinksFlapping, FLAPS, primaryCutThenKilled, replicaIsolatedThenPrimaryKilled } from './partition-scenarios.ts';
import { createPreferenceChecker } from './preference-checker.ts';
import { sentinelIsolatedThenPrimaryKilled, someAppLinksFlapping, splitBrain } from './split-partition-scenarios.ts';

// The partition suite, run by `npm run chaos -- --partitions` (tools/chaos/cli.ts), which starts this file inside a
// network namespace of its own (tools/lib/private-network.ts). Its own stack, on that namespace's loopback.

const usage = `
npm run chaos -- --partitions [--short] [--only TEXT[,TEXT]] [--write-docs]: Redis links cut by iptables rules in a
private network namespace, under a logged-in load, then failovers. --short: the first row only. --only: the rows whose
step name contains a TEXT (e.g. --only 'split brain'). --write-docs: a whole run's table goes into docs/operations.md,
between its chaos-partitions markers. Exits 1 if a bound fails.`;

const { values: args } = parseCommandLine(
  { command: 'npm run chaos -- --partitions', usage },
  { short: { type: 'boolean', default: false }, only: { type: 'string' }, 'write-docs': { type: 'boolean', default: false } },
);
if (args['write-docs'] && (args.short || args.only !== undefined)) {
  console.error('npm run chaos -- --partitions: --write-docs publishes a whole run only (no --short or --only)');
  process.exit(2);
}
if (!inPrivateNetwork())
  throw new Error('tools/chaos/partitions.ts runs inside a private network namespace: npm run chaos -- --partitions');

/** The whole run stops by itself after this, whatever hangs. */
const SUITE_TIMEOUT_MS = args.short ? 120_000 : 420_000;
const USERS = 8;
const RATE = 50;
const OPERATIONS = 6;
const SENTINEL_ROW_OPERATIONS = 3;
/** Preloaded into each app instance: its Redis links come from an address of its own (app-source-address.ts). */
const appSourcePreload = `--import=${join(import.meta.dirname, 'app-source-address.ts')}`;

let stack: Stack | undefined;
let loop: LoadLoop | undefined;
const cleanUp = async () => {
  await loop?.stop();
  await stack?.stop();
};
const stopWatchdog = onStopSignal('partitions', cleanUp, { giveUpAfterMs: SUITE_TIMEOUT_MS });

async function main(): Promise<Check[]> {
  const firewall = await createFirewall();
  const { users, demoUsers } = makeUsers(
    `part-${randomUUID().slice(0, 6)}`,
    USERS + 4 * OPERATIONS + SENTINEL_ROW_OPERATIONS + 4 * FLAPS + 2,
  );
  const loadUsers = users.splice(0, USERS);
  const runDir = join(repoRoot, '.run/chaos-partitions');
  stack = await startStack({
    redis: 'sentinel',
    catalog: false,
    nginxPort: 28580,
    redisPort: 26580,
    appBasePort: 23500,
    runDir,
    fresh: true,
    // The Sentinels' and the apps' links each from an address of their own, so rules can cut some and not others.
    sentinelSources: true,
    env: {
      ...process.env,
      DEMO_USERS: demoUsers,
      NODE_OPTIONS: [process.env.NODE_OPTIONS, appSourcePreload].filter(Boolean).join(' '),
    },
    print: printToStackLog(runDir),
  });
  const loggedIn = await loginAll(stack.urls.nginx, loadUsers);
  console.log(`[partitions] ${loggedIn.length} users logged in; load: ${RATE} req/s through ${stack.urls.nginx}`);
  loop = startLoadLoop({ baseUrl: stack.urls.nginx, users: loggedIn, ratePerS: RATE, maxDurationMs: SUITE_TIMEOUT_MS });

  const checks: Check[] = [];
  const figures: Record<string, object> = {};
  const context = { stack, firewall, loop, users: loggedIn, preferences: createPreferenceChecker(loggedIn) };
  const step = async (name: string, run: () => Promise<{ checks: Check[]; figures: object }>) => {
    if (args.only !== undefined && !args.only.split(',').some((text) => name.includes(text))) return;
    console.log(`[partitions] ${name}`);
    const result = await run();
    checks.push(...result.checks);
    figures[name] = result.figures;
    for (const failed of failedChecks(result.checks))
      console.log(`[partitions]   ✗ ${failed.figure}: ${failed.measured} (bound ${failed.bound})`);
  };
  await step('primary cut from both replicas, then killed', () =>
    primaryCutThenKilled({ ...context, accounts: users.splice(0, OPERATIONS + 2) }),
  );
  if (!args.short) {
    await step('one replica isolated, healed, then the primary killed', () =>
      replicaIsolatedThenPrimaryKilled({ ...context, accounts: users.splice(0, OPERATIONS) }),
    );
    await step('every client link to the primary flapping, then the primary killed', () =>
      clientLinksFlapping({ ...context, accounts: users.splice(0, 2 * FLAPS) }),
    );
    await step('split brain: the primary and one app instance cut off from the rest, failed over, healed', () =>
      splitBrain({ ...context, accounts: users.splice(0, OPERATIONS) }),
    );
    await step('one Sentinel isolated, then the primary killed, healed', () =>
      sentinelIsolatedThenPrimaryKilled({ ...context, accounts: users.splice(0, SENTINEL_ROW_OPERATIONS) }),
    );
    await step('the Redis links of two app instances of three flapping', () =>
      someAppLinksFlapping({ ...context, accounts: users.splice(0, 2 * FLAPS) }),
    );
  }
  await loop.stop();
  if (loop.skipped() > 0)
    checks.push(check('Load loop', 'requests not sent (over 2000 in flight)', String(loop.skipped()), '0', false));
  console.log(['', checkTable(checks), ''].join('\n'));
  console.log(`[partitions] results: ${writeResults('chaos-partitions', { short: args.short, checks, figures })}`);
  if (args['write-docs'])
    console.log(`[partitions] ${publishRun('partitions', 'npm run chaos -- --partitions --write-docs', checks)}`);
  return checks;
}

try {
  const failed = failedChecks(await main());
  if (failed.length > 0) {
    console.error(
      `[partitions] ${failed.length} bound(s) not met: ${failed.map((c) => `${c.scenario} › ${c.figure}`).join('; ')}`,
    );
    process.exitCode = 1;
  } else console.log('[partitions] all bounds met');
} catch (err) {
  console.error(`[partitions] failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
  stopWatchdog();
}
