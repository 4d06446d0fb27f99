import { send, sessionOf } from '../lib/http.ts';
import { waitFor } from '../lib/poll.ts';
import type { Endpoint, Firewall } from '../lib/private-network.ts';
import { withRedis } from '../lib/redis.ts';
import { sentinelGroupReady } from '../lib/sentinel.ts';
import { attemptLogin, login, type LoggedInUser } from '../lib/session-client.ts';
import type { Credentials } from '../lib/demo-users.ts';
import type { Stack } from '../stack/start-stack.ts';
import { oldPrimaryRejoined } from './failover-scenarios.ts';
import { check, fmtMs, informative, observe } from './checks.ts';
import { settled } from './instance-scenarios.ts';
import type { LoadLoop } from './load-loop.ts';
import { lostLogins, recovery } from './redis-scenarios.ts';
import { sentinelSourceOf } from '../stack/redis-topology.ts';
import { appSourceOf } from './app-source-address.ts';

// The partition rows: links between Redis nodes cut inside the private namespace (tools/lib/private-network.ts),
// then a failover. Each row keeps a checker: every end of a session it was told succeeded (303) is looked up after the
// failover with a copy of the cookie, as an attacker who kept one would, on every instance.

export type PartitionContext = {
  stack: Stack;
  firewall: Firewall;
  loop: LoadLoop;
  /** Logged in before the row (their logins were confirmed by a replica): none may be lost. */
  users: LoggedInUser[];
  /** Accounts the row's own operations log in and out with (one per operation). */
  accounts: Credentials[];
};

/** One acknowledged-or-refused end of sessions, and the cookies of the sessions it claimed to end. */
export type Revocation = { what: string; username: string; status: number; ms: number; retryAfter?: string; copies: string[] };

/** The source address data node `i` connects from (its replication link, its Sentinel replies are by port). */
const sourceOf = (i: number) => `127.0.1.${i + 1}`;

export const adminUrlOf = (stack: Stack, port: number) => {
  const url = new URL(stack.urls.redisAdmin);
  url.port = String(port);
  return url.href;
};

/** The data nodes, each with its endpoint, and which one is primary now (as the Sentinels say). */
export async function nodesOf(stack: Stack) {
  const { nodes } = (await stack.describe()).redis;
  return nodes.map((node, i) => ({
    name: node.name,
    port: node.port,
    role: node.role,
    endpoint: { port: node.port, source: sourceOf(i) } satisfies Endpoint,
  }));
}

/**
 * Gives each data node an address of its own to connect from (its replication link then can be told from the apps'
 * and the Sentinels' connections, which come from 127.0.0.1), and makes every replica reconnect from it. Replicas
 * still announce 127.0.0.1, where they listen. Runtime settings: after a node restarts, this is done again.
 */
export async function assignSourceAddresses(stack: Stack) {
  const nodes = await nodesOf(stack);
  for (const node of nodes)
    await withRedis(adminUrlOf(stack, node.port), (client) =>
      client.sendCommand(['CONFIG', 'SET', 'replica-announce-ip', '127.0.0.1', 'bind-source-addr', node.endpoint.source]),
    );
  const primary = nodes.find((node) => node.role === 'primary');
  if (!primary) throw new Error(`no primary among ${nodes.map((node) => `${node.name} ${node.role}`).join(', ')}`);
  const primaryUrl = adminUrlOf(stack, primary.port);
  await withRedis(primaryUrl, (client) => client.sendCommand(['CLIENT', 'KILL', 'TYPE', 'replica']));
  const replicas = nodes.filter((node) => node !== primary);
  await waitFor(
    'every replica to reconnect from its own address',
    async () => {
      const list = await withRedis(primaryUrl, (client) => client.sendCommand<string>(['CLIENT', 'LIST', 'TYPE', 'replica']));
      return replicas.every((node) => list.includes(`addr=${node.endpoint.source}:`));
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  // The Sentinels (started with their own addresses) and the apps (app-source-address.ts) connect from theirs: the
  // rules that tell their links apart hold only if they do.
  const { sentinels: sentinelSources, apps: appSources } = clientSources(stack);
  await waitFor(
    'every Sentinel and every app instance on the primary, each from its own address',
    async () => {
      const list = await withRedis(primaryUrl, (client) => client.sendCommand<string>(['CLIENT', 'LIST', 'TYPE', 'normal']));
      return [...sentinelSources, ...appSources].every((source) => list.includes(`addr=${source}:`));
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  await waitFor(
    'the Sentinel group to see every replica in sync',
    () => sentinelGroupReady(sentinelUrls(stack), primaryUrl, replicas.length),
    { timeoutMs: 15_000, intervalMs: 200 },
  );
  return { primary, replicas };
}

/** The addresses the Sentinels and the app instances connect from (by Sentinel and instance number). */
export const clientSources = (stack: Stack) => ({
  sentinels: stack.status().redis.sentinels.map((_sentinel, i) => sentinelSourceOf(i)),
  apps: stack.status().instances.map((instance) => appSourceOf(instance.n)),
});

export const sentinelUrls = (stack: Stack) =>
  stack
    .status()
    .redis.sentinels.map((sentinel) => adminUrlOf(stack, sentinel.port))
    .filter(Boolean);

/** How many replicas confirm a probe write on `port` within 300 ms: 0 proves the cut holds. */
const replicasConfirming = (stack: Stack, port: number) =>
  withRedis(adminUrlOf(stack, port), async (client) => {
    await client.set('partition-probe', String(Date.now()), { expiration: { type: 'EX', value: 60 } });
    return client.wait(1, 300);
  });

/** A second browser of the same user (a phone beside a laptop). */
const post = (baseUrl: string, from: LoggedInUser, path: string, form: Record<string, string> = {}) =>
  send(`${baseUrl}${path}`, { method: 'POST', cookie: from.cookie, form: { _csrf: from.csrfToken, ...form } });

/** The operations a row runs against sessions prepared before it: logouts, "log out everywhere", "log out the others". */
export async function prepareRevocations(baseUrl: string, accounts: Credentials[]) {
  const prepared: {
    kind: 'logout' | 'revoke-all' | 'revoke-others';
    account: Credentials;
    laptop: LoggedInUser;
    phone?: LoggedInUser;
  }[] = [];
  for (const [i, account] of accounts.entries()) {
    const kind = (['logout', 'revoke-all', 'revoke-others'] as const)[i % 3]!;
    const laptop = await login(baseUrl, account.username, account.password);
    const phone = kind === 'logout' ? undefined : await login(baseUrl, account.username, account.password);
    prepared.push({ kind, account, laptop, ...(phone ? { phone } : {}) });
  }
  return prepared;
}

export async function revoke(baseUrl: string, op: Awaited<ReturnType<typeof prepareRevocations>>[number]): Promise<Revocation> {
  const { kind, account, laptop, phone } = op;
  const reply =
    kind === 'logout'
      ? await post(baseUrl, laptop, '/logout')
      : await post(baseUrl, laptop, `/sessions/${kind}`, { password: account.password });
  const copies = kind === 'logout' ? [laptop.cookie] : kind === 'revoke-all' ? [laptop.cookie, phone!.cookie] : [phone!.cookie];
  const retryAfter = typeof reply.headers['retry-after'] === 'string' ? reply.headers['retry-after'] : undefined;
  return {
    what: kind,
    username: account.username,
    status: reply.status,
    ms: reply.ms,
    ...(retryAfter ? { retryAfter } : {}),
    copies,
  };
}

/**
 * The acknowledged ends of sessions undone: each session reported ended (303) whose copied cookie some instance
 * recognises (each asked directly, its answer retried while it is a 503), with the instances that do.
 */
export async function undone(stack: Stack, revocations: Revocation[]) {
  const found: { what: string; username: string; instances: string[] }[] = [];
  const instances = stack.status().instances;
  for (const revocation of revocations.filter((r) => r.status === 303))
    for (const cookie of revocation.copies) {
      const recognisedBy: string[] = [];
      for (const instance of instances) {
        const reply = await waitFor(
          `an answer from ${instance.id}`,
          async () => {
            const answer = await send(`${instance.url}/api/session`, { cookie });
            return answer.status === 503 ? undefined : answer;
          },
          { timeoutMs: 5_000, intervalMs: 100 },
        );
        if (sessionOf(reply)?.authenticated) recognisedBy.push(instance.id);
      }
      if (recognisedBy.length > 0) found.push({ what: revocation.what, username: revocation.username, instances: recognisedBy });
    }
  return found;
}

/** "0", or "3 sessions back (each on 3 of 3 instances)". */
function describeUndone(found: Awaited<ReturnType<typeof undone>>, instances: number) {
  if (found.length === 0) return '0';
  const counts = found.map((f) => f.instances.length);
  const [least, most] = [Math.min(...counts), Math.max(...counts)];
  return `${found.length} sessions back (each on ${least === most ? least : `${least}-${most}`} of ${instances} instances)`;
}

const endedSessions = (revocations: Revocation[]) =>
  revocations.filter((r) => r.status === 303).reduce((sum, r) => sum + r.copies.length, 0);

/** The slowest answer among `revocations` (ms), and the slowest logout's. */
export const slowest = (revocations: Revocation[]) => {
  const ms = (list: Revocation[]) => (list.length ? `${Math.round(Math.max(...list.map((r) => r.ms)))} ms` : 'none');
  return `${ms(revocations)} (logouts: ${ms(revocations.filter((r) => r.what === 'logout'))})`;
};

/** The app's default LOGIN_MAX_FAILURES_PER_ACCOUNT: the guesses an account allows per window. */
const GUESSES_PER_ACCOUNT = 5;

/** Wrong passwords for one account until it is refused (429 or 503), at most `max`: the statuses, in order. */
async function guess(baseUrl: string, username: string, max = GUESSES_PER_ACCOUNT + 3) {
  const statuses: number[] = [];
  while (statuses.length < max) {
    const { res } = await attemptLogin(baseUrl, username, `wrong-${statuses.length}`);
    statuses.push(res.status);
    if (res.status !== 401) break;
  }
  return statuses;
}

export const statusCounts = (revocations: Revocation[]) => {
  const counts = new Map<number, number>();
  for (const { status } of revocations) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${status} ×${n}`).join(', ');
};

/** Load answers that were neither a success nor an honest 503. */
export const dishonest = (loop: LoadLoop, phase: string) =>
  loop.phase(phase).filter((record) => record.status !== 200 && record.status !== 503);

/**
 * The primary SIGKILLed at the end of a row's `phase`: how long until logged-in reads succeed again, the load's
 * answers other than 200 or 503 once it settled, and the acknowledged ends of sessions the failover undid.
 */
export async function killPrimary(stack: Stack, loop: LoadLoop, users: LoggedInUser[], phase: string, revocations: Revocation[]) {
  await stack.redis.killPrimary();
  const back = await recovery(stack, users[0]!);
  loop.mark(`after-${phase}`);
  await settled(loop, phase);
  const wrong = dishonest(loop, phase);
  return { back, wrong, undoneAfter: await undone(stack, revocations) };
}

// The checks every row makes, each row with its own wording.

/** Each end of sessions acknowledged (303) or honestly refused (503 with Retry-After). */
export const answeredHonestly = (name: string, figure: string, revocations: Revocation[]) =>
  check(
    name,
    figure,
    statusCounts(revocations),
    '303 or 503 + Retry-After only',
    revocations.every((r) => r.status === 303 || (r.status === 503 && r.retryAfter !== undefined)),
  );

/** No acknowledged end of sessions undone: none of their copied cookies logged in again, on any instance. */
export const noneUndone = (
  name: string,
  figure: string,
  stack: Stack,
  revocations: Revocation[],
  found: Awaited<ReturnType<typeof undone>>,
) =>
  check(
    name,
    figure,
    `${describeUndone(found, stack.status().instances.length)} of ${endedSessions(revocations)} ended by ${revocations.filter((r) => r.status === 303).length} acknowledged operations`,
    '0',
    found.length === 0,
  );

/** Logged-in reads succeed on every instance within `boundMs`. */
export const servedWithin = (
  name: string,
  figure: string,
  back: Awaited<ReturnType<typeof recovery>> | undefined,
  boundMs: number,
) =>
  check(
    name,
    figure,
    `${fmtMs(back?.allInstances)} (via nginx ${fmtMs(back?.viaNginx)})`,
    `≤ ${boundMs} ms`,
    back?.allInstances !== undefined && back.allInstances <= boundMs,
  );

export const honestLoad = (name: string, loop: LoadLoop, phase: string, wrong: ReturnType<typeof dishonest>) =>
  check(name, 'load answers other than 200 or 503', `${wrong.length} of ${loop.phase(phase).length}`, '0', wrong.length === 0);

export const noLoginLost = (name: string, figure: string, lost: string[], users: LoggedInUser[]) =>
  check(name, figure, `${lost.length} of ${users.length}`, '0', lost.length === 0);

/** The old primary restarted, every cut healed, and the group whole again with each node's own address. */
export async function repair(stack: Stack, firewall: Firewall) {
  await firewall.heal();
  await stack.redis.startNodes();
  await oldPrimaryRejoined(stack);
  await assignSourceAddresses(stack);
}

/**
 * The primary's links to both replicas cut (the apps and the Sentinels still reach it): logouts and revocations
 * during the cut, and logins; then the primary SIGKILLed while the cut remains, and a replica promoted that never
 * saw what the primary took during the cut. No end of a session that answered 303 may be undone.
 */
export async function primaryCutThenKilled({ stack, firewall, loop, users, accounts }: PartitionContext) {
  const name = 'Primary cut from both replicas, then killed';
  const baseUrl = stack.urls.nginx;
  const [loginAccount, guessedAccount, ...revocationAccounts] = accounts;
  const prepared = await prepareRevocations(baseUrl, revocationAccounts);
  const { primary, replicas } = await assignSourceAddresses(stack);

  loop.mark('primary-cut');
  for (const replica of replicas) await firewall.cut(replica.endpoint, primary.endpoint);
  const confirming = await replicasConfirming(stack, primary.port);
  const revocations: Revocation[] = [];
  for (const op of prepared) revocations.push(await revoke(baseUrl, op));
  // A login during the cut: the primary takes it, no replica confirms, it stands (logins_unreplicated_total).
  const duringCut = await login(baseUrl, loginAccount!.username, loginAccount!.password).catch(() => undefined);
  // An attacker guessing one account's password during the cut: no count is confirmed, so no password is checked.
  const guessesDuringCut = await guess(baseUrl, guessedAccount!.username);
  const { back, wrong, undoneAfter } = await killPrimary(stack, loop, users, 'primary-cut', revocations);
  // What a user told 503 does: tries again. After the failover the retry is confirmed, and ends the session for good.
  const refused = prepared.filter((_op, i) => revocations[i]!.status === 503);
  const retried: Revocation[] = [];
  for (const op of refused) retried.push(await revoke(baseUrl, op));
  const aliveAfterRetry = await undone(stack, retried);
  // The same attacker after the failover: a count the promoted replica never had would be as many guesses more.
  const guessesAfter = await guess(baseUrl, guessedAccount!.username);
  const wrongBefore = guessesDuringCut.filter((status) => status === 401).length;
  const wrongAfter = guessesAfter.filter((status) => status === 401).length;
  const lost = await lostLogins(baseUrl, users);
  const cutLoginLost = duringCut ? (await lostLogins(baseUrl, [duringCut])).length : undefined;
  await repair(stack, firewall);
  return {
    checks: [
      check(name, 'the cut holds: replicas confirming a write on the primary', String(confirming), '0', confirming === 0),
      answeredHonestly(name, 'ends of sessions answered (logout, revoke-all, revoke-others)', revocations),
      noneUndone(
        name,
        'acknowledged ends of sessions undone by the failover (a copied cookie logged in again, any instance)',
        stack,
        revocations,
        undoneAfter,
      ),
      informative(name, 'slowest answer to an end of sessions during the cut (the 503s)', slowest(revocations)),
      servedWithin(name, `SIGKILL ${primary.name} (cut remains) → logged-in reads succeed on every instance`, back, 6_000),
      honestLoad(name, loop, 'primary-cut', wrong),
      check(
        name,
        'refused ones retried after the failover: answers; sessions still logged in after them',
        `${statusCounts(retried) || 'none refused'}; ${aliveAfterRetry.length}`,
        '303; 0',
        retried.every((r) => r.status === 303) && aliveAfterRetry.length === 0,
      ),
      check(
        name,
        'login throttle: one account guessed during the cut, then after the failover: answers; wrong passwords checked in all',
        `${guessesDuringCut.join(' ')} → ${guessesAfter.join(' ')}; ${wrongBefore + wrongAfter}`,
        `≤ ${GUESSES_PER_ACCOUNT} (the failover hands out no fresh guesses)`,
        wrongBefore + wrongAfter <= GUESSES_PER_ACCOUNT,
      ),
      noLoginLost(name, 'logins confirmed before the cut, lost', lost, users),
      informative(
        name,
        'a login answered during the cut (no replica confirmed it), lost',
        duringCut ? (cutLoginLost ? 'yes' : 'no') : 'refused',
      ),
    ],
    figures: {
      primary: primary.name,
      confirming,
      revocations: revocations.map(({ copies: _c, ...r }) => r),
      undone: undoneAfter,
      recovery: back,
      wrong: wrong.slice(0, 10),
      lost,
    },
  };
}

/**
 * One replica isolated from everything (primary, Sentinels): ends of sessions still answer 303 (the other replica
 * confirms them). Healed, then the primary SIGKILLed: none of them is undone, no login is lost.
 */
export async function replicaIsolatedThenPrimaryKilled({ stack, firewall, loop, users, accounts }: PartitionContext) {
  const name = 'One replica isolated; healed; then the primary killed';
  const baseUrl = stack.urls.nginx;
  const prepared = await prepareRevocations(baseUrl, accounts);
  const { primary, replicas } = await assignSourceAddresses(stack);
  const isolated = replicas[0]!;

  loop.mark('replica-isolated');
  await firewall.isolate(isolated.endpoint);
  const revocations: Revocation[] = [];
  for (const op of prepared) revocations.push(await revoke(baseUrl, op));
  await firewall.heal();
  await waitFor(
    'the isolated replica to catch up',
    () => sentinelGroupReady(sentinelUrls(stack), adminUrlOf(stack, primary.port), replicas.length),
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  const { back, wrong, undoneAfter } = await killPrimary(stack, loop, users, 'replica-isolated', revocations);
  const lost = await lostLogins(baseUrl, users);
  await repair(stack, firewall);
  return {
    checks: [
      answeredHonestly(name, `ends of sessions answered while ${isolated.name} is isolated`, revocations),
      noneUndone(name, 'acknowledged ends of sessions undone by the failover', stack, revocations, undoneAfter),
      informative(name, 'slowest answer to an end of sessions, one replica confirming', slowest(revocations)),
      servedWithin(name, `SIGKILL ${primary.name} → logged-in reads succeed on every instance`, back, 6_000),
      honestLoad(name, loop, 'replica-isolated', wrong),
      noLoginLost(name, 'logins confirmed before the row, lost', lost, users),
    ],
    figures: {
      isolated: isolated.name,
      revocations: revocations.map(({ copies: _c, ...r }) => r),
      undone: undoneAfter,
      recovery: back,
      wrong: wrong.slice(0, 10),
      lost,
    },
  };
}

/** Each cut and each healed spell of the flapping row (an observation window, not a wait for readiness). */
const FLAP_MS = 1_000;
export const FLAPS = 5;

/**
 * Every client link to the primary flapping (cut 1 s, healed 1 s, five times: 10 s): the apps' and the Sentinels'
 * (each from its own address; the replicas' links stay). Each cut is shorter
 * than down-after (2 s), so no failover. An end of sessions in every spell; then the primary SIGKILLed: none of the
 * acknowledged ones may be undone.
 */
export async function clientLinksFlapping({ stack, firewall, loop, users, accounts }: PartitionContext) {
  const name = 'Every client link to the primary flapping for 10 s, then the primary killed';
  const baseUrl = stack.urls.nginx;
  const prepared = await prepareRevocations(baseUrl, accounts);
  const { primary } = await assignSourceAddresses(stack);
  const { sentinels, apps } = clientSources(stack);
  const clients = [...apps, ...sentinels].map((source) => ({ port: 0, source }));

  loop.mark('flapping');
  const revocations: Revocation[] = [];
  let servedAgain: Awaited<ReturnType<typeof recovery>> | undefined;
  for (let i = 0; i < FLAPS; i++) {
    for (const client of clients) await firewall.cut(client, primary.endpoint);
    const cutUntil = observe(FLAP_MS);
    if (prepared[2 * i]) revocations.push(await revoke(baseUrl, prepared[2 * i]!));
    await cutUntil;
    await firewall.heal();
    // Timed from the last heal, while that spell's end of sessions runs.
    const served = i === FLAPS - 1 ? recovery(stack, users[0]!) : undefined;
    const healedUntil = observe(FLAP_MS);
    if (prepared[2 * i + 1]) revocations.push(await revoke(baseUrl, prepared[2 * i + 1]!));
    await healedUntil;
    servedAgain = await served;
  }
  const { back, wrong, undoneAfter } = await killPrimary(stack, loop, users, 'flapping', revocations);
  const lost = await lostLogins(baseUrl, users);
  await repair(stack, firewall);
  return {
    checks: [
      answeredHonestly(name, 'ends of sessions answered, one in each spell', revocations),
      servedWithin(name, 'last heal → logged-in reads succeed on every instance', servedAgain, 3_000),
      noneUndone(name, 'acknowledged ends of sessions undone by the failover after it', stack, revocations, undoneAfter),
      servedWithin(name, `SIGKILL ${primary.name} → logged-in reads succeed on every instance`, back, 6_000),
      honestLoad(name, loop, 'flapping', wrong),
      noLoginLost(name, 'logins confirmed before the row, lost', lost, users),
    ],
    figures: {
      revocations: revocations.map(({ copies: _c, ...r }) => r),
      undone: undoneAfter,
      servedAgain,
      recovery: back,
      wrong: wrong.slice(0, 10),
      lost,
    },
  };
}
