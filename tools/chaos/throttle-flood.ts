import { randomUUID } from 'node:crypto';
import { send } from '../lib/http.ts';
import type { Credentials } from '../lib/demo-users.ts';
import { connectAdmin } from '../lib/redis.ts';
import { openLoginForm } from '../lib/session-client.ts';
import type { Stack } from '../stack/start-stack.ts';
import { check, informative, type Check } from './checks.ts';

const SCENARIO = 'One address floods logins with random usernames';
// The app's per-address limit; the stack passes the environment through to the instances.
const maxPerClient = Number(process.env.LOGIN_MAX_FAILURES_PER_CLIENT ?? 100);
const FLOOD = 500;
// Other clients as nginx sees them: loopback has the whole 127/8, and nginx listens on 127.0.0.1.
const ATTACKER = '127.0.0.3';
const SOMEONE_ELSE = '127.0.0.4';

/**
 * An address past its login limit keeps sending random usernames: the refusals must make Redis store nothing more
 * (no counter per named account), and a real user elsewhere still logs in.
 */
export async function throttleFlood(stack: Stack, user: Credentials): Promise<{ checks: Check[]; figures: object }> {
  const baseUrl = stack.urls.nginx;
  const { jar, csrfToken } = await openLoginForm(baseUrl);
  const guess = (localAddress: string, username = `flood-${randomUUID()}`, password = 'not-a-password') =>
    send(`${baseUrl}/login`, {
      method: 'POST',
      cookie: jar.header(),
      form: { username, password, _csrf: csrfToken },
      localAddress,
    });
  // Up to the limit and one past it: the address is refused from here on. An attempt answered 503 (no replica
  // confirmed its count in time, which a loaded cluster does now and then) is taken back, not counted (throttle.ts):
  // sent again, as a client would, within a bounded number of tries.
  const reaching: number[] = [];
  for (let tries = 0; reaching.length <= maxPerClient && tries < 3 * (maxPerClient + 1); tries++) {
    const { status } = await guess(ATTACKER);
    if (status !== 503) reaching.push(status);
  }

  const admin = await connectAdmin(await stack.redis.primaryAdminUrl());
  try {
    const counters = async () => (await admin.keys('login-fail:*')).length;
    const keysBefore = await counters();
    const memoryBefore = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
    const statuses = new Map<number, number>();
    for (let i = 0; i < FLOOD; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => guess(ATTACKER)));
      for (const { status } of batch) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    const keysAfter = await counters();
    const memoryAfter = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
    const real = (await guess(SOMEONE_ELSE, user.username, user.password)).status;
    const flood = [...statuses].map(([status, count]) => `${count} × ${status}`).join(', ');
    return {
      checks: [
        check(
          SCENARIO,
          `${maxPerClient + 1} failures from ${ATTACKER}, the last`,
          String(reaching.at(-1)),
          '429',
          reaching.at(-1) === 429,
        ),
        check(SCENARIO, `then ${FLOOD} random usernames from it`, flood, `${FLOOD} × 429`, statuses.get(429) === FLOOD),
        check(SCENARIO, 'throttle keys the flood added', String(keysAfter - keysBefore), '0', keysAfter === keysBefore),
        informative(SCENARIO, 'Redis used_memory change', `${Math.round((memoryAfter - memoryBefore) / 1024)} KiB`),
        check(SCENARIO, `a real login from ${SOMEONE_ELSE} meanwhile`, String(real), '303', real === 303),
      ],
      figures: { reaching, flood: Object.fromEntries(statuses), keysBefore, keysAfter, memoryBefore, memoryAfter, real },
    };
  } finally {
    admin.destroy();
  }
}
