import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseCommandLine } from '../lib/command-line.ts';
import { makeUsers, type Credentials } from '../lib/demo-users.ts';
import { onStopSignal } from '../lib/on-stop-signal.ts';
import { repoRoot } from '../lib/paths.ts';
import { runInPrivateNetwork } from '../lib/private-network.ts';
import { writeResults } from '../lib/results.ts';
import { loginAll } from '../lib/session-client.ts';
import { stackOptionsFrom, stackOptionSpec } from '../stack/options.ts';
import { cacheOutages, coldHerd, memcachedOutages, postgresStopped } from './catalog-scenarios.ts';
import { primaryFrozen, primaryKilled } from './failover-scenarios.ts';
import { redisRollingRestart, redisSwitchover } from './switchover-scenarios.ts';
import { printToStackLog } from '../stack/stack-log.ts';
import { CACHE_ENGINES, startStack, type Stack } from '../stack/start-stack.ts';
import { clusterPrimaryKilled, clusterResharding } from './cluster-scenarios.ts';
import { baseline } from './baseline.ts';
import { publishRun } from './chaos-doc.ts';
import { check, checkTable, failedChecks, type Check } from './checks.ts';
import { killOneInstance, rollingRestart } from './instance-scenarios.ts';
import { startLoadLoop, type LoadLoop } from './load-loop.ts';
import { redisFrozen, redisKilled } from './redis-scenarios.ts';
import { redisRestartKeepsWrites } from './redis-restart.ts';
import { throttleFlood } from './throttle-flood.ts';
import { logoutRacingWrites } from './resurrection.ts';
import { sessionsOnMemcached } from './memcached-sessions.ts';

const partitionsScript = join(import.meta.dirname, 'partitions.ts');
// The partition suite runs in a network namespace of its own, as a child: nothing below applies to it.
if (process.argv.includes('--partitions'))
  process.exit(
    await runInPrivateNetwork(
      partitionsScript,
      process.argv.slice(2).filter((arg) => arg !== '--partitions'),
    ),
  );

const usage = `
npm run chaos: resilience under load, with asserted bounds. Boots its own stack (nginx 28480, redis 26480,
apps 23401.., .run/chaos), keeps an open-loop load of logged-in and anonymous requests running through nginx,
kills and freezes things during it, prints a table and exits 1 if any bound is not met.

  npm run chaos -- --rate 200 --users 20 --rounds 200

Options: --rate N (requests/s, 200), --users N (20), --rounds N (logout races, 200), --redis sentinel|single|cluster
(sentinel: also the primary failover rows, and the first partition row; cluster: a shard's primary killed and a
resharding), --cache redis|memcached (memcached: the catalogue's rows only, on three memcached nodes, and the
row that shows why sessions stay off memcached), --nginx-port,
--redis-port, --app-base-port, --run-dir DIR, --only TEXT[,TEXT] (the baseline and the rows whose step name contains
a TEXT, e.g. --only switchover,'Redis rolling'; no partition row), --write-docs (the whole default run only: its
tables, the partition rows' too, go into docs/operations.md, between its chaos markers), --help.

  npm run chaos -- --partitions [--short]

Redis links cut in a private network namespace (root, or unprivileged user namespaces), then failovers: every
acknowledged logout and revocation must survive (tools/chaos/partitions.ts).`;

const {
  values: args,
  integer,
  choice,
} = parseCommandLine(
  { command: 'npm run chaos', usage },
  {
    rate: { type: 'string', default: '200' },
    users: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '200' },
    cache: { type: 'string', default: 'redis' },
    only: { type: 'string' },
    'write-docs': { type: 'boolean', default: false },
    ...stackOptionSpec({
      nginxPort: 28480,
      redisPort: 26480,
      appBasePort: 23400,
      runDir: join(repoRoot, '.run/chaos'),
      redis: 'sentinel',
    }),
  },
);
/** The whole suite stops by itself after this, whatever hangs. */
const SUITE_TIMEOUT_MS = 240_000;

let stack: Stack | undefined;
let loop: LoadLoop | undefined;
const cleanUp = async () => {
  await loop?.stop();
  await stack?.stop();
};
const stopWatchdog = onStopSignal('chaos', cleanUp, { giveUpAfterMs: SUITE_TIMEOUT_MS });

// Every option is checked before anything starts.
const stackOptions = stackOptionsFrom(args, integer, choice);
const [userCount, rate, rounds] = [integer('users'), integer('rate'), integer('rounds')];
const cache = choice('cache', CACHE_ENGINES);
/** The session rows do not depend on the cache's engine: on memcached, only the catalogue's rows run. */
const sessionRows = cache === 'redis';
if (args['write-docs'] && (stackOptions.redis !== 'sentinel' || !sessionRows || args.only !== undefined)) {
  console.error('npm run chaos: --write-docs publishes the whole default run only (no --redis, --cache or --only)');
  process.exit(2);
}

async function main(): Promise<Check[]> {
  // Accounts of their own for the logout race and the session across a Redis restart; the throttled account is new
  // on every run, since its failures outlive the run in Redis's AOF (15 minutes).
  const { users, demoUsers: pairs } = makeUsers('chaos', userCount + 4);
  const [racer, sessionUser, lastLogin, flooded] = users.splice(userCount) as [
    Credentials,
    Credentials,
    Credentials,
    Credentials,
  ];
  const suffix = randomUUID().slice(0, 8);
  const throttled = { username: `throttled-${suffix}`, password: `throttled-password-${suffix}` };
  const demoUsers = `${pairs},${throttled.username}:${throttled.password}`;
  stack = await startStack({
    ...stackOptions,
    cache,
    fresh: true,
    env: { ...process.env, DEMO_USERS: demoUsers },
    print: printToStackLog(stackOptions.runDir),
  });
  const loggedIn = await loginAll(stack.urls.nginx, users);
  console.log(`[chaos] ${loggedIn.length} users logged in; load: ${rate} req/s through ${stack.urls.nginx}`);
  loop = startLoadLoop({ baseUrl: stack.urls.nginx, users: loggedIn, ratePerS: rate, maxDurationMs: SUITE_TIMEOUT_MS });

  const checks: Check[] = [];
  const figures: Record<string, object> = {};
  const step = async (name: string, run: () => Promise<{ checks: Check[]; figures: object }>) => {
    if (args.only !== undefined && name !== 'baseline' && !args.only.split(',').some((text) => name.includes(text))) return;
    console.log(`[chaos] ${name}`);
    const started = performance.now();
    const result = await run();
    console.log(`[chaos]   ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    checks.push(...result.checks);
    figures[name] = result.figures;
    for (const failed of failedChecks(result.checks))
      console.log(`[chaos]   ✗ ${failed.figure}: ${failed.measured} (bound ${failed.bound})`);
  };
  const running = loop;
  const liveStack = stack;

  await step('baseline', () => baseline(running));
  // In flight at the steady rate, with a margin of 2: the level the load must return to after a freeze.
  const baselineInFlight = Math.max(4, 2 * running.maxInFlight('baseline'));
  if (sessionRows) await step('SIGKILL one instance', () => killOneInstance(liveStack, running));
  if (sessionRows) await step('rolling restart', () => rollingRestart(liveStack, running));
  // Before the whole-Redis outages: a failover the Sentinels had to abort (no replica left) holds off the next one
  // for twice failover-timeout (20 s), which would fail a primary failover right after it.
  if (sessionRows && liveStack.redis.mode === 'sentinel') {
    const context = { stack: liveStack, loop: running, users: loggedIn, lastLogin };
    await step('Redis primary killed (Sentinel)', () => primaryKilled(context));
    await step('Redis primary frozen (Sentinel)', () => primaryFrozen(context));
    const passwords = new Map(users.map(({ username, password }) => [username, password]));
    const planned = { stack: liveStack, loop: running, users: loggedIn, passwords };
    await step('Redis switchover (Sentinel)', () => redisSwitchover(planned));
    await step('Redis rolling restart (Sentinel)', () => redisRollingRestart(planned));
  }
  if (sessionRows && liveStack.redis.mode === 'cluster') {
    await step('Redis Cluster: a shard primary killed', () =>
      clusterPrimaryKilled({ stack: liveStack, loop: running, users: loggedIn, lastLogin }),
    );
    await step('Redis Cluster: resharding', () => clusterResharding({ stack: liveStack, loop: running, users: loggedIn }));
  }
  // The whole-Redis rows, the logout race and the restart row read keys through one node's admin connection (in a
  // cluster, a key on another shard answers MOVED) and time one node's restart: they are the single/Sentinel rows.
  const oneKeyspaceNode = sessionRows && liveStack.redis.mode !== 'cluster';
  if (oneKeyspaceNode) {
    await step('Redis killed and restarted', () =>
      redisKilled({ stack: liveStack, loop: running, users: loggedIn, baselineInFlight }),
    );
    await step('Redis frozen and resumed', () =>
      redisFrozen({ stack: liveStack, loop: running, users: loggedIn, baselineInFlight }),
    );
  }
  if (liveStack.catalog) {
    await step('Cold product herd', () => coldHerd(liveStack));
    if (liveStack.catalog.cache) await step('Cache Redis killed and frozen', () => cacheOutages(liveStack, running));
    else {
      await step('memcached nodes killed and frozen', () => memcachedOutages(liveStack, running));
      await step('sessions on memcached, a node killed', () => sessionsOnMemcached(liveStack));
    }
    await step('PostgreSQL stopped', () => postgresStopped(liveStack));
  }
  await running.stop();
  if (running.skipped() > 0)
    checks.push(check('Load loop', 'requests not sent (over 2000 in flight)', String(running.skipped()), '0', false));
  if (oneKeyspaceNode) {
    await step('logout racing writes', () => logoutRacingWrites(liveStack, racer, { rounds }));
    await step('Redis restart keeps what was written', () => redisRestartKeepsWrites(liveStack, throttled, sessionUser));
  }
  // Last: the flood uses addresses of its own (127.0.0.3, .4), but its minute of refusals should disturb no other row.
  await step('one address floods random usernames', () => throttleFlood(liveStack, flooded));

  console.log(['', checkTable(checks), ''].join('\n'));
  const file = writeResults('chaos', { rate, users: loggedIn.length, checks, figures });
  console.log(`[chaos] results: ${file}`);
  if (args['write-docs']) console.log(`[chaos] ${publishRun('chaos', 'npm run chaos -- --write-docs', checks)}`);
  return checks;
}

try {
  const failed = failedChecks(await main());
  if (failed.length > 0) {
    console.error(`[chaos] ${failed.length} bound(s) not met: ${failed.map((c) => `${c.scenario} › ${c.figure}`).join('; ')}`);
    process.exitCode = 1;
  } else console.log('[chaos] all bounds met');
} catch (err) {
  console.error(`[chaos] failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
  stopWatchdog();
}
// Its own stack in its own namespace, after this one stopped: every partition row, for every Sentinel run.
if (sessionRows && stackOptions.redis === 'sentinel' && args.only === undefined) {
  console.log('[chaos] the partition rows (npm run chaos -- --partitions)');
  if ((await runInPrivateNetwork(partitionsScript, args['write-docs'] ? ['--write-docs'] : [])) !== 0) process.exitCode = 1;
}
