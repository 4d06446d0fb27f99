import { send } from '../lib/http.ts';
import { login, type LoggedInUser } from '../lib/session-client.ts';
import type { Stack } from '../stack/start-stack.ts';
import { check, fmtMs } from './checks.ts';
import { settled } from './instance-scenarios.ts';
import type { LoadLoop } from './load-loop.ts';
import { lostLogins } from './redis-scenarios.ts';

type Context = { stack: Stack; loop: LoadLoop; users: LoggedInUser[]; passwords: Map<string, string> };
type WriteRecord = { kind: 'preference' | 'login'; status: number; ms: number; error?: string };

/** Preference writes per second (round robin over the users) and logins per second, beside the read load. */
const PREFERENCES_PER_S = 20;
const LOGINS_PER_S = 4;
/** The app holds a command for a failover for at most 3 s (FAILOVER_WAIT_MS) beyond its 500 ms deadline, twice. */
const LONGEST_REQUEST_BOUND_MS = 4_000;

/**
 * Logged-in writes while `operation` runs: each user in turn saves a preference (a session write, 303 when saved) and
 * logs in again from a fresh browser (a new session, written and confirmed by a replica before the 303). Bounded: it
 * stops when the operation ends, and every request has its own timeout.
 */
export async function whileWriting<T>(context: Omit<Context, 'loop'>, operation: () => Promise<T>) {
  const { stack, users, passwords } = context;
  const baseUrl = stack.urls.nginx;
  const records: WriteRecord[] = [];
  const newLogins: LoggedInUser[] = [];
  const pending = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    pending.add(work);
    void work.finally(() => pending.delete(work));
  };
  // One preference at a time per user, each the other theme than the last: the last one answered 303 is what the
  // session must show afterwards (a write acknowledged and then lost shows the theme before it).
  const acknowledged = new Map<string, string>();
  const busy = new Set<string>();
  const written = new Map<string, number>();
  let n = 0;
  const preferences = setInterval(() => {
    const user = users[n++ % users.length]!;
    if (busy.has(user.username)) return;
    busy.add(user.username);
    const count = (written.get(user.username) ?? 0) + 1;
    written.set(user.username, count);
    const theme = count % 2 ? 'dark' : 'light';
    track(
      send(`${baseUrl}/preferences`, { method: 'POST', cookie: user.cookie, form: { theme, _csrf: user.csrfToken } }).then(
        (reply) => {
          busy.delete(user.username);
          if (reply.status === 303) acknowledged.set(user.username, theme);
          records.push({
            kind: 'preference',
            status: reply.status,
            ms: reply.ms,
            ...(reply.error ? { error: reply.error } : {}),
          });
        },
      ),
    );
  }, 1000 / PREFERENCES_PER_S);
  let m = 0;
  const logins = setInterval(() => {
    const { username } = users[m++ % users.length]!;
    const started = performance.now();
    track(
      login(baseUrl, username, passwords.get(username)!).then(
        (user) => {
          newLogins.push(user);
          records.push({ kind: 'login', status: 303, ms: performance.now() - started });
        },
        (err: Error) => {
          // login() names the status it got: "POST /login as <name>: 503, no session cookie".
          const status = Number(/: (\d{3}),/.exec(err.message)?.[1] ?? 0);
          const ms = performance.now() - started;
          records.push({ kind: 'login', status, ms, ...(status ? {} : { error: err.message }) });
        },
      ),
    );
  }, 1000 / LOGINS_PER_S);
  try {
    return { result: await operation(), records, newLogins, acknowledged };
  } finally {
    clearInterval(preferences);
    clearInterval(logins);
    await Promise.all(pending);
  }
}

/** Users whose home page shows another theme than the last preference they were answered 303 for. */
export async function lostPreferences(baseUrl: string, users: LoggedInUser[], acknowledged: Map<string, string>) {
  const lost: string[] = [];
  for (const user of users) {
    const theme = acknowledged.get(user.username);
    if (!theme) continue;
    const shown = /class="theme-(\w+)"/.exec((await send(`${baseUrl}/`, { cookie: user.cookie })).body)?.[1];
    if (shown !== theme) lost.push(`${user.username}: ${theme} acknowledged, ${shown ?? 'nothing'} shown`);
  }
  return lost;
}

/** An operation on the Sentinel group under the read load and the write loop, and what users saw meanwhile. */
async function underLoad(name: string, phase: string, context: Context, operation: () => Promise<{ from: string; to: string }>) {
  const { stack, loop, users } = context;
  const before = (await stack.describe()).redis.nodes.find((node) => node.role === 'primary')?.name;
  loop.mark(phase);
  const started = performance.now();
  const { result, records, newLogins, acknowledged } = await whileWriting(context, operation);
  const ms = performance.now() - started;
  loop.mark('between');
  await settled(loop, phase);
  const after = (await stack.describe()).redis.nodes.find((node) => node.role === 'primary')?.name;
  const reads = loop.phase(phase);
  const wrongReads = reads.filter((record) => record.status !== 200 || (record.username && record.authenticated !== true));
  const wrongWrites = records.filter((record) => record.status !== 303);
  const lost = await lostLogins(stack.urls.nginx, [...users, ...newLogins]);
  const lostWrites = await lostPreferences(stack.urls.nginx, users, acknowledged);
  const longest = (list: { ms: number }[]) => Math.max(0, ...list.map((record) => record.ms));
  const longestRead = longest(reads);
  const longestWrite = longest(records);
  const summary = (list: { status: number; error?: string; kind?: string }[]) => {
    const kinds = new Map<string, number>();
    for (const record of list) {
      const kind = `${record.kind ?? 'read'} ${record.error ?? record.status}`;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    return [...kinds].map(([kind, n]) => `${kind} ×${n}`).join(', ');
  };
  return {
    checks: [
      check(
        name,
        'primary before → after',
        `${before} → ${after} (${result.from} → ${result.to}; operation ${fmtMs(ms)})`,
        'another node',
        before !== undefined && after !== undefined && before !== after && result.to === after,
      ),
      check(
        name,
        'answers other than 200 (logged-in and anonymous reads) or 303 (preference writes, logins)',
        `${wrongReads.length + wrongWrites.length} of ${reads.length + records.length}` +
          (wrongReads.length + wrongWrites.length ? ` (${summary([...wrongReads, ...wrongWrites])})` : ''),
        '0',
        wrongReads.length + wrongWrites.length === 0,
      ),
      check(
        name,
        'logins lost (every user logged in before, and every login made during it)',
        `${lost.length} of ${users.length + newLogins.length}`,
        '0',
        lost.length === 0,
      ),
      check(
        name,
        "acknowledged preference writes lost (each user's last one answered 303, read back)",
        `${lostWrites.length} of ${acknowledged.size}`,
        '0',
        lostWrites.length === 0,
      ),
      check(
        name,
        'longest request: reads; writes and logins',
        `${fmtMs(longestRead)}; ${fmtMs(longestWrite)}`,
        `≤ ${LONGEST_REQUEST_BOUND_MS} ms`,
        Math.max(longestRead, longestWrite) <= LONGEST_REQUEST_BOUND_MS,
      ),
    ],
    figures: {
      result,
      ms,
      before,
      after,
      wrongReads: wrongReads.slice(0, 10),
      wrongWrites: wrongWrites.slice(0, 10),
      lost,
      lostWrites,
    },
  };
}

/** A planned switchover (infra/redis/switchover.sh): writes paused on the primary, a caught-up replica promoted. */
export const redisSwitchover = (context: Context) =>
  underLoad('Redis switchover (POST /redis/switchover)', 'redis-switchover', context, () => context.stack.redis.switchover());

/** Each replica, each Sentinel, a switchover, then the old primary: every Redis process restarted, one at a time. */
export const redisRollingRestart = (context: Context) =>
  underLoad('Redis rolling restart (POST /redis/rolling-restart)', 'redis-rolling-restart', context, async () => {
    const { switchover, restarted, ms } = await context.stack.redis.rollingRestart();
    return { ...switchover, restarted, ms };
  });
