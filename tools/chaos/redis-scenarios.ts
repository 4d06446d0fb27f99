import { send, sessionOf, type Reply } from '../lib/http.ts';
import { timeUntil } from '../lib/poll.ts';
import type { LoggedInUser } from '../lib/session-client.ts';
import type { Stack } from '../stack/start-stack.ts';
import { check, fmtMs, observe, type Check } from './checks.ts';
import { settled } from './instance-scenarios.ts';
import { isFailure, type LoadLoop } from './load-loop.ts';

type Context = { stack: Stack; loop: LoadLoop; users: LoggedInUser[]; baselineInFlight: number };

const OUTAGE_MS = 2_000;

/** Sequential probes during an outage: a logged-in read and two anonymous pages, through nginx. */
async function probeOutage(baseUrl: string, user: LoggedInUser, rounds = 4) {
  const loggedIn: Reply[] = [];
  const anonymous: Reply[] = [];
  for (let i = 0; i < rounds; i++) {
    loggedIn.push(await send(`${baseUrl}/api/session`, { cookie: user.cookie }));
    anonymous.push(await send(`${baseUrl}/login`), await send(`${baseUrl}/api/session`));
  }
  return { loggedIn, anonymous };
}

/** ms until a logged-in read succeeds through nginx, and until it succeeds on every instance directly. */
export async function recovery(stack: Stack, user: LoggedInUser) {
  const authenticated = async (url: string) =>
    sessionOf(await send(`${url}/api/session`, { cookie: user.cookie, timeoutMs: 1_000 }))?.authenticated === true;
  const [viaNginx, ...perInstance] = await Promise.all([
    timeUntil(() => authenticated(stack.urls.nginx), 10_000),
    ...stack.status().instances.map((instance) => timeUntil(() => authenticated(instance.url), 10_000)),
  ]);
  const allInstances = perInstance.some((ms) => ms === undefined) ? undefined : Math.max(...(perInstance as number[]));
  return { viaNginx, allInstances };
}

/** Users from before the outage whose session is no longer recognised (each checked through nginx, retried on 5xx). */
export async function lostLogins(baseUrl: string, users: LoggedInUser[]) {
  const lost: string[] = [];
  for (const user of users) {
    let session;
    for (let attempt = 0; attempt < 5 && !session; attempt++)
      session = sessionOf(await send(`${baseUrl}/api/session`, { cookie: user.cookie }));
    if (session?.authenticated !== true || session.user?.username !== user.username) lost.push(user.username);
  }
  return lost;
}

const statuses = (replies: Reply[]) => [...new Set(replies.map((reply) => reply.status || reply.error))].join('/');
const maxMs = (replies: { ms: number }[]) => Math.max(0, ...replies.map((reply) => reply.ms));

function outageChecks(
  name: string,
  probes: Awaited<ReturnType<typeof probeOutage>>,
  anonymousRecords: ReturnType<LoadLoop['phase']>,
  withinMs: number,
) {
  const { loggedIn, anonymous } = probes;
  const honest = loggedIn.every(
    (reply) => reply.status === 503 && reply.headers['retry-after'] !== undefined && reply.ms <= withinMs,
  );
  const anonymousFailures = anonymous.filter((reply) => reply.status !== 200).length + anonymousRecords.filter(isFailure).length;
  return [
    check(
      name,
      'logged-in request: status, slowest of probes',
      `${statuses(loggedIn)}${loggedIn.every((reply) => reply.headers['retry-after']) ? ' + Retry-After' : ''}, ${fmtMs(maxMs(loggedIn))}`,
      `503 + Retry-After within ${withinMs} ms`,
      honest,
    ),
    check(
      name,
      'anonymous pages (probes + load) not 200',
      `${anonymousFailures} of ${anonymous.length + anonymousRecords.length}`,
      '0',
      anonymousFailures === 0,
    ),
  ];
}

/** Marks `phase`, breaks Redis with `fault`, probes during the outage and keeps the load on it for OUTAGE_MS. */
async function outage(loop: LoadLoop, phase: string, fault: () => Promise<unknown>, baseUrl: string, user: LoggedInUser) {
  loop.mark(phase);
  await fault();
  const brokenAt = performance.now();
  const probes = await probeOutage(baseUrl, user);
  await observe(Math.max(0, OUTAGE_MS - (performance.now() - brokenAt)));
  return probes;
}

export async function redisKilled({ stack, loop, users }: Context): Promise<{ checks: Check[]; figures: object }> {
  const [user] = users as [LoggedInUser];
  const baseUrl = stack.urls.nginx;
  const probes = await outage(loop, 'redis-killed', stack.redis.kill, baseUrl, user);

  loop.mark('redis-restarted');
  const restartedAt = performance.now();
  await stack.redis.startNodes();
  const redisUpMs = performance.now() - restartedAt;
  const back = await recovery(stack, user);
  const backMs = back.allInstances === undefined ? undefined : redisUpMs + back.allInstances;
  loop.mark('between');
  await settled(loop, 'redis-killed');
  await settled(loop, 'redis-restarted');
  const lost = await lostLogins(baseUrl, users);
  const anonymousRecords = loop.phase('redis-killed').filter((record) => record.kind === 'anonymous');
  return {
    checks: [
      ...outageChecks('Redis killed (SIGKILL)', probes, anonymousRecords, 200),
      check(
        'Redis back (restart on its AOF)',
        'restart → logged-in reads succeed on every instance',
        `${fmtMs(backMs)} (Redis answering after ${fmtMs(redisUpMs)}, reads OK via nginx ${fmtMs(back.viaNginx)} later)`,
        '≤ 2000 ms',
        backMs !== undefined && backMs <= 2_000,
      ),
      check('Redis back (restart on its AOF)', 'logins lost', `${lost.length} of ${users.length}`, '0', lost.length === 0),
    ],
    figures: { probes: summarize(probes), redisUpMs, recovery: back, backMs, lost },
  };
}

export async function redisFrozen({
  stack,
  loop,
  users,
  baselineInFlight,
}: Context): Promise<{ checks: Check[]; figures: object }> {
  const [user] = users as [LoggedInUser];
  const baseUrl = stack.urls.nginx;
  const probes = await outage(loop, 'redis-frozen', async () => stack.redis.pause(), baseUrl, user);

  loop.mark('redis-resumed');
  await stack.redis.resume();
  const back = await recovery(stack, user);
  // Piling up: how long until no more requests are in flight than in the quiet baseline.
  const drainedMs = await timeUntil(async () => loop.inFlight() <= baselineInFlight, 5_000, 5);
  const peakInFlight = loop.maxInFlight('redis-frozen');
  loop.mark('between');
  await settled(loop, 'redis-frozen');
  await settled(loop, 'redis-resumed');
  const lost = await lostLogins(baseUrl, users);
  const frozen = loop.phase('redis-frozen');
  const slowest = maxMs(frozen);
  const anonymousRecords = frozen.filter((record) => record.kind === 'anonymous');
  return {
    checks: [
      ...outageChecks('Redis frozen (SIGSTOP)', probes, anonymousRecords, 1_000),
      check(
        'Redis frozen (SIGSTOP)',
        'piling up: slowest load request; in flight peak → back to baseline after SIGCONT',
        `${fmtMs(slowest)}; ${peakInFlight} (baseline ${baselineInFlight}) → ${fmtMs(drainedMs)}`,
        '≤ 1000 ms; ≤ 1000 ms',
        slowest <= 1_000 && drainedMs !== undefined && drainedMs <= 1_000,
      ),
      check(
        'Redis back (SIGCONT)',
        'SIGCONT → logged-in reads succeed on every instance',
        `${fmtMs(back.allInstances)} (via nginx ${fmtMs(back.viaNginx)})`,
        '≤ 2000 ms',
        back.allInstances !== undefined && back.allInstances <= 2_000,
      ),
      check('Redis back (SIGCONT)', 'logins lost', `${lost.length} of ${users.length}`, '0', lost.length === 0),
    ],
    figures: { probes: summarize(probes), recovery: back, drainedMs, peakInFlight, baselineInFlight, slowestMs: slowest, lost },
  };
}

const summarize = ({ loggedIn, anonymous }: Awaited<ReturnType<typeof probeOutage>>) => ({
  loggedIn: loggedIn.map(({ status, ms, headers, error }) => ({ status, ms, retryAfter: headers['retry-after'], error })),
  anonymous: anonymous.map(({ status, ms, error }) => ({ status, ms, error })),
});
