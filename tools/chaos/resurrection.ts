import { send, sessionOf } from '../lib/http.ts';
import { timeUntil } from '../lib/poll.ts';
import { connectAdmin } from '../lib/redis.ts';
import { login } from '../lib/session-client.ts';
import type { Stack } from '../stack/start-stack.ts';
import { sessionKey } from '../../app/src/keys.ts';
import { check, informative, type Check } from './checks.ts';

const WRITES_PER_ROUND = 8;

/**
 * Logout racing session writes, through nginx: per round a fresh login, then WRITES_PER_ROUND `POST /preferences`
 * and one `POST /logout` of that session at once. A write that read the session before the logout's DEL and writes
 * after it would bring the session back with a plain SET; the store's `SET ... XX` must drop it.
 * Afterwards the key must be gone and every instance must see the cookie as anonymous.
 * Redis MONITOR (admin user) counts the writes that did reach Redis after the DEL: the resurrections a plain SET
 * would have caused.
 */
export async function logoutRacingWrites(
  stack: Stack,
  user: { username: string; password: string },
  { rounds = 200, maxMs = 40_000 } = {},
) {
  const baseUrl = stack.urls.nginx;
  // On the primary: a replica may still hold a key for a moment after its DEL.
  const admin = await connectAdmin(await stack.redis.primaryAdminUrl());
  const monitor = admin.duplicate();
  monitor.on('error', () => {
    // a broken MONITOR connection shows up as a missing end marker below
  });
  await monitor.connect();
  const deleted = new Set<string>();
  const lateWrites = new Map<string, number>();
  let seenMarker = '';
  await monitor.monitor((line: string) => {
    const command = /\] "(\w+)" "([^"]+)"/.exec(line);
    if (!command) return;
    const [, name = '', key = ''] = command;
    const upper = name.toUpperCase();
    if (upper === 'ECHO') seenMarker = key;
    else if (upper === 'DEL' && key.startsWith('sess:')) deleted.add(key);
    else if (upper === 'SET' && deleted.has(key)) lateWrites.set(key, (lateWrites.get(key) ?? 0) + 1);
  });

  const started = performance.now();
  let done = 0;
  let resurrected = 0;
  const statuses = new Map<number, number>();
  try {
    for (; done < rounds && performance.now() - started < maxMs; done++) {
      const session = await login(baseUrl, user.username, user.password);
      const form = (fields: Record<string, string>) => ({ ...fields, _csrf: session.csrfToken });
      const requests = Array.from({ length: WRITES_PER_ROUND }, (_, i) =>
        send(`${baseUrl}/preferences`, {
          method: 'POST',
          cookie: session.cookie,
          form: form({ theme: i % 2 ? 'dark' : 'light' }),
        }),
      );
      // The logout goes out in the middle of the writes, so some read the session before it and write after it.
      requests.splice(
        WRITES_PER_ROUND / 2,
        0,
        send(`${baseUrl}/logout`, { method: 'POST', cookie: session.cookie, form: form({}) }),
      );
      for (const reply of await Promise.all(requests)) statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);

      const stored = await admin.exists(sessionKey(session.sessionId));
      const seenBy = await Promise.all(
        stack
          .status()
          .instances.map(
            async (instance) => sessionOf(await send(`${instance.url}/api/session`, { cookie: session.cookie }))?.authenticated,
          ),
      );
      if (stored || seenBy.some((authenticated) => authenticated !== false)) resurrected++;
    }
    const marker = `chaos-end-${Date.now()}`;
    await admin.sendCommand(['ECHO', marker]);
    const monitorCaughtUp = (await timeUntil(async () => seenMarker === marker, 5_000)) !== undefined;
    const roundsWithLateWrite = lateWrites.size;
    const name = 'Concurrent requests in one session';
    const checks: Check[] = [
      check(
        name,
        `logout racing ${WRITES_PER_ROUND} writes: session back (key or any instance)`,
        `${resurrected} of ${done} rounds`,
        'never',
        resurrected === 0 && done > 0,
      ),
      informative(
        name,
        'rounds where a write reached Redis after the DEL (a plain SET would have resurrected)',
        monitorCaughtUp ? `${roundsWithLateWrite} of ${done} (dropped by SET … XX)` : 'n/a (MONITOR did not catch up)',
      ),
    ];
    return {
      checks,
      figures: {
        rounds: done,
        resurrected,
        roundsWithLateWrite,
        lateWrites: [...lateWrites.values()].reduce((a, b) => a + b, 0),
        statuses: Object.fromEntries(statuses),
      },
    };
  } finally {
    monitor.destroy();
    admin.destroy();
  }
}
