import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { send, sessionOf } from '../lib/http.ts';
import { poll } from '../lib/poll.ts';
import { redisUrl, withRedis } from '../lib/redis.ts';
import { attemptLogin, login } from '../lib/session-client.ts';
import { sessionKey } from '../../app/src/keys.ts';
import type { Credentials } from '../lib/demo-users.ts';
import type { Stack } from '../stack/start-stack.ts';
import { check, type Check } from './checks.ts';

const SCENARIO = 'Redis restart keeps what was written (SIGKILL, restart on its AOF)';
// The app's per-account limit; the stack passes the environment through to the instances.
const maxFailures = Number(process.env.LOGIN_MAX_FAILURES_PER_ACCOUNT ?? 5);

/**
 * What the app wrote before Redis restarts must be there after it: a brute-force counter (written in MULTI … EXEC,
 * which an AOF replay with ACLs can drop) and a session. `throttled` is an account that is not otherwise used.
 */
export async function redisRestartKeepsWrites(
  stack: Stack,
  throttled: Credentials,
  sessionUser: Credentials,
): Promise<{ checks: Check[]; figures: object }> {
  const baseUrl = stack.urls.nginx;
  const attempt = async (password: string) => (await attemptLogin(baseUrl, throttled.username, password)).res.status;

  const before: number[] = [];
  for (let i = 0; i <= maxFailures; i++) before.push(await attempt(`not-${throttled.password}`));
  const session = await login(baseUrl, sessionUser.username, sessionUser.password);
  // On every node before the kill (a replica may still be resyncing after the rows before this one): the row is about
  // what a restart on the AOF keeps, not about which node a whole-group restart brings back first.
  const key = sessionKey(session.sessionId);
  const password = readFileSync(join(stack.status().runDir, 'secrets', 'redis_admin_password'), 'utf8').trim();
  const onEveryNode = async () => {
    const held = await Promise.all(
      stack
        .status()
        .redis.nodes.map((node) =>
          withRedis(redisUrl('admin', password, node.port, { tls: true }), (client) => client.exists(key)).catch(() => 0),
        ),
    );
    return held.every((count) => count === 1);
  };
  await poll(onEveryNode, { timeoutMs: 10_000, intervalMs: 100 });

  await stack.redis.kill();
  await stack.redis.startNodes();
  // The instances reconnect on their own, with backoff: the first answer that is not a 503 is the verdict.
  const after = await poll(
    async () => {
      const status = await attempt(throttled.password);
      return status !== 503 && status;
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  const seenBy = await Promise.all(
    stack.status().instances.map(async (instance) => {
      const known = await poll(
        async () => sessionOf(await send(`${instance.url}/api/session`, { cookie: session.cookie }))?.authenticated === true,
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      return known !== undefined;
    }),
  );
  const kept = seenBy.filter(Boolean).length;
  return {
    checks: [
      check(
        SCENARIO,
        `throttle: ${maxFailures + 1} failed logins, restart, then the right password`,
        `${before.join(' ')} → restart → ${after?.value ?? 'no answer'}`,
        `${'401 '.repeat(maxFailures)}429 → restart → 429`,
        before.at(-1) === 429 && before.slice(0, -1).every((status) => status === 401) && after?.value === 429,
      ),
      check(
        SCENARIO,
        'session logged in just before the kill, recognised after',
        `on ${kept} of ${seenBy.length} instances`,
        'all',
        kept === seenBy.length,
      ),
    ],
    figures: { before, after: after?.value, sessionKeptOn: kept, instances: seenBy.length },
  };
}
