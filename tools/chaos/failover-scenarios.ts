import { waitFor } from '../lib/poll.ts';
import { login, type LoggedInUser } from '../lib/session-client.ts';
import type { Stack } from '../stack/start-stack.ts';
import { check, fmtMs } from './checks.ts';
import { settled } from './instance-scenarios.ts';
import type { LoadLoop } from './load-loop.ts';
import { lostLogins, recovery } from './redis-scenarios.ts';

type Context = { stack: Stack; loop: LoadLoop; users: LoggedInUser[]; lastLogin: { username: string; password: string } };

/** Statuses other than 200 and 503 among the load's answers in `phase`: a failover may refuse, never fail. */
const dishonest = (loop: LoadLoop, phase: string) =>
  loop.phase(phase).filter((record) => record.status !== 200 && record.status !== 503);

/** Back to a full group: the old primary restarted (if killed) or resumed, and rejoined as a replica. */
async function rejoin(stack: Stack, restart: boolean) {
  if (restart) await stack.redis.startNodes();
  else await stack.redis.resumePaused();
  await oldPrimaryRejoined(stack);
}

/** Waits until every node but one is a replica: the old primary, back, follows the promoted one. */
export async function oldPrimaryRejoined(stack: Stack) {
  await waitFor(
    'the old primary to rejoin as a replica',
    async () => {
      const { nodes } = (await stack.describe()).redis;
      return nodes.filter((node) => node.role === 'replica').length === nodes.length - 1;
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  );
}

/**
 * The Sentinel rows: the primary killed, then frozen, under load. A user logs in just before each fault (their login
 * waited for a replica: it must survive the failover); every earlier login must survive too.
 */
async function failover(name: string, fault: 'kill' | 'pause', bound: number, { stack, loop, users, lastLogin }: Context) {
  const baseUrl = stack.urls.nginx;
  const phase = `primary-${fault}`;
  const justBefore = await login(baseUrl, lastLogin.username, lastLogin.password);
  loop.mark(phase);
  const primary = fault === 'kill' ? await stack.redis.killPrimary() : await stack.redis.pausePrimary();
  const back = await recovery(stack, justBefore);
  loop.mark('between');
  await settled(loop, phase);
  const wrong = dishonest(loop, phase);
  const lost = await lostLogins(baseUrl, [...users, justBefore]);
  await rejoin(stack, fault === 'kill');
  return {
    checks: [
      check(
        name,
        `${fault === 'kill' ? 'SIGKILL' : 'SIGSTOP'} ${primary.name} → logged-in reads succeed on every instance`,
        `${fmtMs(back.allInstances)} (via nginx ${fmtMs(back.viaNginx)})`,
        `≤ ${bound} ms`,
        back.allInstances !== undefined && back.allInstances <= bound,
      ),
      check(
        name,
        'load answers other than 200 or 503',
        `${wrong.length} of ${loop.phase(phase).length}`,
        '0',
        wrong.length === 0,
      ),
      check(
        name,
        'logins lost (including one made just before)',
        `${lost.length} of ${users.length + 1}`,
        '0',
        lost.length === 0,
      ),
    ],
    figures: { primary: primary.name, recovery: back, wrong: wrong.slice(0, 10), lost },
  };
}

/** down-after-milliseconds (2 s) + election and promotion (~1 s) + the apps' switch: measured ~3.5 s here. */
export const primaryKilled = (context: Context) => failover('Redis primary killed (Sentinel failover)', 'kill', 5_000, context);

/** A frozen primary is only declared down after the same 2 s, and its in-flight requests time out (500 ms) meanwhile. */
export const primaryFrozen = (context: Context) => failover('Redis primary frozen (Sentinel failover)', 'pause', 6_000, context);
