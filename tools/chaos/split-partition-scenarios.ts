import { send, sessionOf } from '../lib/http.ts';
import { timeUntil, waitFor } from '../lib/poll.ts';
import { withRedis } from '../lib/redis.ts';
import { primaryPortOf } from '../lib/sentinel.ts';
import { lostLogins, recovery } from './redis-scenarios.ts';
import { appSourceOf } from './app-source-address.ts';
import { check, fmtMs, informative, observe } from './checks.ts';
import { oldPrimaryRejoined } from './failover-scenarios.ts';
import { settled } from './instance-scenarios.ts';
import {
  adminUrlOf,
  answeredHonestly,
  assignSourceAddresses,
  clientSources,
  dishonest,
  FLAPS,
  honestLoad,
  killPrimary,
  noLoginLost,
  noneUndone,
  prepareRevocations,
  repair,
  revoke,
  sentinelUrls,
  servedWithin,
  slowest,
  statusCounts,
  undone,
  type PartitionContext,
  type Revocation,
} from './partition-scenarios.ts';
import { preferenceStatuses, type PreferenceChecker } from './preference-checker.ts';

// The partition rows that split the group itself: the primary and one app instance on one side, the Sentinels and
// the replicas on the other (a split brain); one Sentinel alone; some app instances' links flapping. They tell the
// Sentinels' and the apps' links apart by their source addresses (127.0.2.N: the stack's sentinelSources option;
// 127.0.3.N: app-source-address.ts). Each row also keeps a preference checker: every preference write answered 303
// must still show afterwards.

export type SplitContext = PartitionContext & { preferences: PreferenceChecker };

const sentinelPorts = (context: PartitionContext) => context.stack.status().redis.sentinels.map((sentinel) => sentinel.port);

const noPreferenceLost = (name: string, figure: string, result: Awaited<ReturnType<PreferenceChecker['lost']>>) =>
  check(
    name,
    figure,
    `${result.lost.length} of ${result.written.filter((write) => write.status === 303).length} acknowledged (answers: ${preferenceStatuses(result.written)})`,
    '0',
    result.lost.length === 0,
  );

const preferencesHonest = (name: string, result: Awaited<ReturnType<PreferenceChecker['lost']>>) =>
  check(
    name,
    'preference writes answered',
    preferenceStatuses(result.written),
    '303 or 503 only',
    result.written.every((write) => write.status === 303 || write.status === 503),
  );

/** ms until every Sentinel but `except` names another primary than `port`. */
const failedOverFrom = (urls: string[], port: number, timeoutMs: number) =>
  timeUntil(
    async () => {
      const named = await Promise.all(urls.map((url) => primaryPortOf(url).catch(() => port)));
      return named.every((named) => named !== port);
    },
    timeoutMs,
    100,
  );

/** How long the split brain lasts: past down-after (2 s) and min-replicas-max-lag (4 s) with room to spare. */
const SPLIT_MS = 8_000;

/**
 * Split brain: the primary cut off from the Sentinels and the replicas, while one app instance (app-1) still reaches
 * it and nothing else (its links to the Sentinels cut too: it never hears of the failover). Ends of sessions and
 * preference writes on that side at once; the Sentinels fail over on theirs (the cut outlasts down-after, 2 s), and
 * the other instances take ends of sessions and preferences on the new primary. Then healed: the Sentinels demote
 * the old primary, which drops what it took alone; app-1 finds the new primary. Nothing answered 303 may be lost.
 */
export async function splitBrain(context: SplitContext) {
  const { stack, firewall, loop, users, accounts, preferences } = context;
  const name = 'Split brain: primary and app-1 cut off from the Sentinels and the replicas, failed over, healed';
  const baseUrl = stack.urls.nginx;
  const prepared = await prepareRevocations(baseUrl, accounts);
  const { primary } = await assignSourceAddresses(stack);
  const [minority, majority] = stack.status().instances;
  const minorityAddress = appSourceOf(minority!.n);
  const half = Math.ceil(prepared.length / 2);

  loop.mark('split-brain');
  const cutAt = performance.now();
  await firewall.isolateExcept(primary.endpoint, [minorityAddress]);
  for (const port of sentinelPorts(context)) await firewall.cut({ port: 0, source: minorityAddress }, { port, source: '' });
  // The old primary's side, at once (before min-replicas-max-lag, 4 s, would refuse writes there anyway).
  const revocations: (Revocation & { side: string })[] = [];
  for (const op of prepared.slice(0, half)) revocations.push({ ...(await revoke(minority!.url, op)), side: 'old primary' });
  for (let i = 0; i < users.length / 2; i++) await preferences.write(minority!.url);

  const urls = sentinelUrls(stack);
  const failoverMs = await failedOverFrom(urls, primary.port, 20_000);
  const promoted = await primaryPortOf(urls[0]!);
  // The new primary's side: once a replica follows it (WAIT 1 needs one), ends of sessions and preferences there.
  const replicaMs = await timeUntil(
    () =>
      withRedis(adminUrlOf(stack, promoted), async (client) => /connected_slaves:[1-9]/.test(await client.info('replication'))),
    20_000,
    100,
  );
  for (const op of prepared.slice(half)) revocations.push({ ...(await revoke(majority!.url, op)), side: 'new primary' });
  for (let i = 0; i < users.length / 2; i++) await preferences.write(majority!.url);
  // The classic split-brain read: a session just ended on the new primary's side, asked on the old one's (app-1),
  // right away and once min-replicas-max-lag (4 s, plus up to 1 s between the replicas' acknowledgements) has made
  // the old primary refuse the read script.
  const staleReads = async () => {
    const answers: string[] = [];
    for (const revocation of revocations.filter((r) => r.side === 'new primary' && r.status === 303))
      for (const cookie of revocation.copies) {
        const reply = await send(`${minority!.url}/api/session`, { cookie });
        answers.push(reply.status === 200 ? (sessionOf(reply)?.authenticated ? 'logged in' : 'anonymous') : String(reply.status));
      }
    return { atMs: Math.round(performance.now() - cutAt), answers };
  };
  const staleFirst = await staleReads();
  await observe(Math.max(0, cutAt + SPLIT_MS - performance.now()));
  const staleLast = await staleReads();
  const cutMs = performance.now() - cutAt;

  await firewall.heal();
  const [back, demotedMs, servedAllMs] = await Promise.all([
    recovery(stack, users[0]!),
    timeUntil(
      () =>
        withRedis(adminUrlOf(stack, primary.port), async (client) =>
          new RegExp(`role:slave[\\s\\S]*master_port:${promoted}\\b`).test(await client.info('replication')),
        ),
      30_000,
      100,
    ),
    timeUntil(async () => (await lostLogins(baseUrl, users)).length === 0, 15_000, 100),
  ]);
  loop.mark('after-split-brain');
  await settled(loop, 'split-brain');
  const wrong = dishonest(loop, 'split-brain');
  await oldPrimaryRejoined(stack);
  const undoneAfter = await undone(stack, revocations);
  const preferenceResult = await preferences.lost(baseUrl);
  const lost = await lostLogins(baseUrl, users);
  const bySide = (side: string) => statusCounts(revocations.filter((r) => r.side === side));
  return {
    checks: [
      answeredHonestly(name, 'ends of sessions answered (half on each side)', revocations),
      informative(
        name,
        'ends of sessions answered on the old primary’s side; on the new one’s',
        `${bySide('old primary')}; ${bySide('new primary')}`,
      ),
      check(
        name,
        'cut → every Sentinel names a new primary',
        fmtMs(failoverMs),
        '≤ 10000 ms',
        failoverMs !== undefined && failoverMs <= 10_000,
      ),
      informative(name, 'cut → a replica follows the new primary; the cut lasted', `${fmtMs(replicaMs)}; ${fmtMs(cutMs)}`),
      informative(
        name,
        'a session just ended on the new primary’s side, read on the old one’s (app-1) right away',
        `${staleFirst.answers.join(', ') || 'none ended'} (${staleFirst.atMs} ms into the cut)`,
      ),
      check(
        name,
        `the same, ${SPLIT_MS / 1000} s into the cut (the old primary refuses without replicas)`,
        `${staleLast.answers.join(', ') || 'none ended'} (${staleLast.atMs} ms into the cut)`,
        'none logged in',
        staleLast.answers.length > 0 && !staleLast.answers.includes('logged in'),
      ),
      noneUndone(name, 'acknowledged ends of sessions undone after the heal (either side)', stack, revocations, undoneAfter),
      preferencesHonest(name, preferenceResult),
      noPreferenceLost(name, 'acknowledged preference writes lost after the heal (either side)', preferenceResult),
      check(
        name,
        'heal → the old primary demoted (a replica of the new one)',
        fmtMs(demotedMs),
        '≤ 20000 ms',
        demotedMs !== undefined && demotedMs <= 20_000,
      ),
      servedWithin(name, 'heal → logged-in reads succeed on every instance', back, 15_000),
      check(
        name,
        'heal → every logged-in user served again (through nginx)',
        fmtMs(servedAllMs),
        '≤ 15000 ms',
        servedAllMs !== undefined && servedAllMs <= 15_000,
      ),
      honestLoad(name, loop, 'split-brain', wrong),
      noLoginLost(name, 'logins confirmed before the row, lost', lost, users),
    ],
    figures: {
      primary: primary.name,
      minority: minority!.id,
      failoverMs,
      replicaMs,
      cutMs,
      demotedMs,
      recovery: back,
      servedAllMs,
      revocations: revocations.map(({ copies: _c, ...r }) => r),
      staleReads: { first: staleFirst, last: staleLast },
      undone: undoneAfter,
      preferences: preferenceResult,
      wrong: wrong.slice(0, 10),
      lost,
    },
  };
}

/**
 * One Sentinel isolated from everything (the data nodes, the other Sentinels, the apps, which list it first), then
 * the primary SIGKILLed: the other two are the quorum (2, infra/redis/sentinel.conf) and a majority of the three, so
 * they fail over. Healed: the isolated Sentinel learns the new primary from the others.
 */
export async function sentinelIsolatedThenPrimaryKilled(context: SplitContext) {
  const { stack, firewall, loop, users, accounts, preferences } = context;
  const name = 'One Sentinel isolated, then the primary killed; healed';
  const baseUrl = stack.urls.nginx;
  const prepared = await prepareRevocations(baseUrl, accounts);
  const { primary } = await assignSourceAddresses(stack);
  const [isolatedPort] = sentinelPorts(context);
  const isolated = { port: isolatedPort!, source: clientSources(stack).sentinels[0]! };
  const isolatedUrl = sentinelUrls(stack)[0]!;

  loop.mark('sentinel-isolated');
  await firewall.isolate(isolated);
  const revocations: Revocation[] = [];
  for (const op of prepared) revocations.push(await revoke(baseUrl, op));
  for (let i = 0; i < users.length / 2; i++) await preferences.write(baseUrl);
  const { back, wrong, undoneAfter } = await killPrimary(stack, loop, users, 'sentinel-isolated', revocations);
  for (let i = 0; i < users.length / 2; i++) await preferences.write(baseUrl);
  const promoted = await primaryPortOf(sentinelUrls(stack)[1]!);

  await firewall.heal();
  const rejoinedMs = await timeUntil(async () => (await primaryPortOf(isolatedUrl)) === promoted, 30_000, 100);
  const preferenceResult = await preferences.lost(baseUrl);
  const lost = await lostLogins(baseUrl, users);
  await repair(stack, firewall);
  return {
    checks: [
      answeredHonestly(name, 'ends of sessions answered while sentinel-1 is isolated', revocations),
      informative(name, 'slowest answer to an end of sessions', slowest(revocations)),
      servedWithin(
        name,
        `SIGKILL ${primary.name} → logged-in reads succeed on every instance (two Sentinels fail over)`,
        back,
        8_000,
      ),
      noneUndone(name, 'acknowledged ends of sessions undone by the failover', stack, revocations, undoneAfter),
      preferencesHonest(name, preferenceResult),
      noPreferenceLost(name, 'acknowledged preference writes lost (before and after the failover)', preferenceResult),
      check(
        name,
        'heal → sentinel-1 names the new primary',
        fmtMs(rejoinedMs),
        '≤ 15000 ms',
        rejoinedMs !== undefined && rejoinedMs <= 15_000,
      ),
      honestLoad(name, loop, 'sentinel-isolated', wrong),
      noLoginLost(name, 'logins confirmed before the row, lost', lost, users),
    ],
    figures: {
      primary: primary.name,
      revocations: revocations.map(({ copies: _c, ...r }) => r),
      recovery: back,
      rejoinedMs,
      undone: undoneAfter,
      preferences: preferenceResult,
      wrong: wrong.slice(0, 10),
      lost,
    },
  };
}

/** Each cut and each healed spell of the flapping rows (an observation window, not a wait for readiness). */
const FLAP_MS = 1_000;

/**
 * Every Redis link of two app instances of three (app-1, app-2: to the data nodes and the Sentinels) flapping, cut
 * 1 s and healed 1 s, five times; app-3's stay. An end of sessions and a preference write through nginx in every
 * spell. app-3 must answer every request it gets as before; the others only 200 or 503; nothing acknowledged lost.
 */
export async function someAppLinksFlapping(context: SplitContext) {
  const { stack, firewall, loop, users, accounts, preferences } = context;
  const name = 'The Redis links of two app instances of three flapping for 10 s';
  const baseUrl = stack.urls.nginx;
  const prepared = await prepareRevocations(baseUrl, accounts);
  await assignSourceAddresses(stack);
  const instances = stack.status().instances;
  const flapping = instances.slice(0, 2);
  const steady = instances[2]!;

  loop.mark('apps-flapping');
  const revocations: Revocation[] = [];
  let servedAgain: Awaited<ReturnType<typeof recovery>> | undefined;
  for (let i = 0; i < FLAPS; i++) {
    for (const instance of flapping) await firewall.cutSource(appSourceOf(instance.n));
    const cutUntil = observe(FLAP_MS);
    if (prepared[2 * i]) revocations.push(await revoke(baseUrl, prepared[2 * i]!));
    await preferences.write(baseUrl);
    await cutUntil;
    await firewall.heal();
    const served = i === FLAPS - 1 ? recovery(stack, users[0]!) : undefined;
    const healedUntil = observe(FLAP_MS);
    if (prepared[2 * i + 1]) revocations.push(await revoke(baseUrl, prepared[2 * i + 1]!));
    await preferences.write(baseUrl);
    await healedUntil;
    servedAgain = await served;
  }
  loop.mark('after-apps-flapping');
  await settled(loop, 'apps-flapping');
  const wrong = dishonest(loop, 'apps-flapping');
  const onSteady = loop.phase('apps-flapping').filter((record) => record.instance === steady.id);
  const steadyWrong = onSteady.filter((record) => record.status !== 200);
  const undoneAfter = await undone(stack, revocations);
  const preferenceResult = await preferences.lost(baseUrl);
  const lost = await lostLogins(baseUrl, users);
  await waitFor('every instance to serve again', async () => (await recovery(stack, users[0]!)).allInstances !== undefined, {
    timeoutMs: 15_000,
  });
  return {
    checks: [
      answeredHonestly(name, 'ends of sessions answered, one in each spell', revocations),
      check(
        name,
        `load answered by ${steady.id} (its links intact): answers other than 200`,
        `${steadyWrong.length} of ${onSteady.length}`,
        '0',
        onSteady.length > 0 && steadyWrong.length === 0,
      ),
      servedWithin(name, 'last heal → logged-in reads succeed on every instance', servedAgain, 3_000),
      noneUndone(name, 'acknowledged ends of sessions undone', stack, revocations, undoneAfter),
      preferencesHonest(name, preferenceResult),
      noPreferenceLost(name, 'acknowledged preference writes lost', preferenceResult),
      honestLoad(name, loop, 'apps-flapping', wrong),
      noLoginLost(name, 'logins confirmed before the row, lost', lost, users),
    ],
    figures: {
      flapping: flapping.map((instance) => instance.id),
      revocations: revocations.map(({ copies: _c, ...r }) => r),
      servedAgain,
      steady: { answered: onSteady.length, wrong: steadyWrong.slice(0, 10) },
      undone: undoneAfter,
      preferences: preferenceResult,
      wrong: wrong.slice(0, 10),
      lost,
    },
  };
}
