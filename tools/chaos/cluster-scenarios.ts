import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sessionKey } from '../../app/src/keys.ts';
import { send, sessionOf } from '../lib/http.ts';
import { timeUntil, waitFor } from '../lib/poll.ts';
import { withRedis } from '../lib/redis.ts';
import { login, type LoggedInUser } from '../lib/session-client.ts';
import type { Stack } from '../stack/start-stack.ts';
import { check, fmtMs } from './checks.ts';
import { settled } from './instance-scenarios.ts';
import { isFailure, type LoadLoop } from './load-loop.ts';
import { lostLogins } from './redis-scenarios.ts';

type Context = { stack: Stack; loop: LoadLoop; users: LoggedInUser[]; lastLogin: { username: string; password: string } };

/**
 * cluster-node-timeout (3 s, infra/redis/cluster.conf) + the replica's election (~1 s) + the apps' topology refresh
 * (every second while a node is away, app/src/redis-cluster.ts): the bound is 10 s.
 */
const FAILOVER_BOUND_MS = 10_000;

/** Each user's session slot, asked before the fault (any node answers CLUSTER KEYSLOT). */
const slotsOf = (stack: Stack, users: LoggedInUser[]) =>
  withRedis(stack.urls.redisAdmin, async (client) => {
    const slots = new Map<string, number>();
    for (const user of users) slots.set(user.username, await client.clusterKeySlot(sessionKey(user.sessionId)));
    return slots;
  });

/** ms until every user's logged-in read succeeds through nginx (each polled on its own). */
async function everyoneBack(baseUrl: string, users: LoggedInUser[]) {
  const authenticated = (user: LoggedInUser) => async () =>
    sessionOf(await send(`${baseUrl}/api/session`, { cookie: user.cookie, timeoutMs: 1_000 }))?.authenticated === true;
  const times = await Promise.all(users.map((user) => timeUntil(authenticated(user), FAILOVER_BOUND_MS + 5_000, 100)));
  return times.some((ms) => ms === undefined) ? undefined : Math.max(...(times as number[]));
}

/**
 * The shard owning slot 0 loses its primary (SIGKILL) under load: its replica must take over, every logged-in read
 * succeed again within 10 s, no login be lost (one made just before included), the load see only 200s and 503s, and
 * the 503s only for users whose session lives on that shard.
 */
export async function clusterPrimaryKilled({ stack, loop, users, lastLogin }: Context) {
  const name = 'Redis Cluster: a shard primary killed';
  const baseUrl = stack.urls.nginx;
  const justBefore = await login(baseUrl, lastLogin.username, lastLogin.password);
  const everyone = [...users, justBefore];
  const slots = await slotsOf(stack, everyone);
  loop.mark('cluster-primary-kill');
  const killed = (await stack.redis.killPrimary()) as { name: string; slots?: string };
  const back = await everyoneBack(baseUrl, everyone);
  loop.mark('between');
  await settled(loop, 'cluster-primary-kill');
  const records = loop.phase('cluster-primary-kill');
  const wrong = records.filter((record) => record.status !== 200 && record.status !== 503);
  const [from, to] = (killed.slots ?? '0-0').split('-').map(Number) as [number, number];
  const refused = new Set(records.filter((record) => record.status === 503).map((record) => record.username ?? 'anonymous'));
  const elsewhere: string[] = [];
  for (const username of refused) {
    const slot = slots.get(username) ?? -1;
    if (slot < from || slot > to) elsewhere.push(username);
  }
  const lost = await lostLogins(baseUrl, everyone);
  await stack.redis.startNodes();
  await waitFor(
    'the killed primary to rejoin as a replica',
    async () => (await stack.describe()).redis.nodes.filter((node) => node.role === 'replica').length === 3,
    { timeoutMs: 20_000, intervalMs: 250 },
  );
  return {
    checks: [
      check(
        name,
        `SIGKILL ${killed.name} (slots ${killed.slots}) → every logged-in read succeeds`,
        fmtMs(back),
        `≤ ${FAILOVER_BOUND_MS} ms`,
        back !== undefined && back <= FAILOVER_BOUND_MS,
      ),
      check(name, 'load answers other than 200 or 503', `${wrong.length} of ${records.length}`, '0', wrong.length === 0),
      check(
        name,
        '503s to users whose session is on another shard',
        `${elsewhere.length} (${refused.size} users saw a 503)`,
        '0',
        elsewhere.length === 0,
      ),
      check(name, 'logins lost (including one made just before)', `${lost.length} of ${everyone.length}`, '0', lost.length === 0),
    ],
    figures: { killed, recoveryMs: back, wrong: wrong.slice(0, 10), elsewhere, lost },
  };
}

/** The primaries' node ids and ports, as CLUSTER SHARDS would say, from CLUSTER SLOTS (one entry per range). */
async function primaries(stack: Stack) {
  const ranges = await withRedis(await stack.redis.primaryAdminUrl(), (client) => client.clusterSlots());
  return ranges.map((range) => ({ id: range.master.id, port: range.master.port, slots: `${range.from}-${range.to}` }));
}

/**
 * Slots move between primaries under load (`redis-cli --cluster reshard`, keys migrated one by one with MIGRATE,
 * clients redirected by ASK and MOVED): no request may fail and no session be lost.
 */
export async function clusterResharding({ stack, loop, users }: Omit<Context, 'lastLogin'>, slots = 1000) {
  const name = 'Redis Cluster: resharding under load';
  const [source, target] = await primaries(stack);
  if (!source || !target) throw new Error('resharding: fewer than two primaries');
  loop.mark('cluster-reshard');
  const started = performance.now();
  await promisify(execFile)(
    'redis-cli',
    [
      ...['--tls', '--cacert', stack.redisCaFile, '--user', 'admin', '--no-auth-warning'],
      ...['--cluster', 'reshard', `127.0.0.1:${source.port}`],
      ...['--cluster-from', source.id, '--cluster-to', target.id, '--cluster-slots', String(slots), '--cluster-yes'],
    ],
    { env: { ...process.env, REDISCLI_AUTH: decodeURIComponent(new URL(stack.urls.redisAdmin).password) }, timeout: 60_000 },
  );
  const tookMs = Math.round(performance.now() - started);
  loop.mark('between');
  await settled(loop, 'cluster-reshard');
  const records = loop.phase('cluster-reshard');
  const failed = records.filter(isFailure);
  const lost = await lostLogins(stack.urls.nginx, users);
  return {
    checks: [
      check(
        name,
        `${slots} slots ${source.port} → ${target.port} (${fmtMs(tookMs)}): failed requests`,
        `${failed.length} of ${records.length}`,
        '0',
        failed.length === 0,
      ),
      check(name, 'sessions lost', `${lost.length} of ${users.length}`, '0', lost.length === 0),
    ],
    figures: { source, target, slots, tookMs, failed: failed.slice(0, 10), lost },
  };
}
