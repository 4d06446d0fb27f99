import type { LoggedInUser } from '../lib/session-client.ts';
import type { Credentials } from '../lib/demo-users.ts';
import { send } from '../lib/http.ts';
import type { LoadSpec } from './load.ts';
import type { Measurer } from './measure.ts';

/** The request variants of the logged-in users: their reads, their session writes, and logins of their browsers. */
export function userVariants(loggedIn: LoggedInUser[], users: Credentials[]) {
  const form = (user: LoggedInUser, fields: Record<string, string>) => ({
    headers: { cookie: user.cookie },
    body: new URLSearchParams({ ...fields, _csrf: user.csrfToken }).toString(),
  });
  return {
    reads: loggedIn.map((user) => ({ headers: { cookie: user.cookie } })) satisfies LoadSpec['variants'],
    // Each user alternates dark and light, so every POST changes the session and is written (resave: false skips no-ops).
    writes: [...loggedIn.map((user) => form(user, { theme: 'dark' })), ...loggedIn.map((user) => form(user, { theme: 'light' }))],
    logins: loggedIn.map((user, i) => ({
      headers: { cookie: user.csrfCookie },
      body: new URLSearchParams({
        username: user.username,
        password: users[i]?.password ?? '',
        _csrf: user.csrfToken,
      }).toString(),
    })),
  };
}

/**
 * The load scenarios, in order: the ceiling, anonymous and logged-in reads, writes, logins, reads at half rate.
 * `loginAgain` gives the readers fresh sessions after the logins (returned as `readers` for any later read load).
 */
export async function runScenarios(
  { measure }: Measurer,
  variants: ReturnType<typeof userVariants>,
  loginAgain: () => Promise<LoadSpec['variants']>,
) {
  const ceiling = await measure('GET /healthz (ceiling)', { method: 'GET', path: '/healthz', variants: [{}] });
  const anonymous = await measure('GET /api/session, anonymous', { method: 'GET', path: '/api/session', variants: [{}] });
  const read = await measure('GET /api/session, logged in', { method: 'GET', path: '/api/session', variants: variants.reads });
  const write = await measure('POST /preferences (session write)', {
    method: 'POST',
    path: '/preferences',
    variants: variants.writes,
  });
  // Logins are CPU-bound (argon2id): a few connections saturate them, and few are left queued when the run stops.
  const login = await measure('POST /login (argon2id)', {
    method: 'POST',
    path: '/login',
    variants: variants.logins,
    connections: 4,
  });
  // Those logins can outnumber MAX_SESSIONS_PER_USER per user: the cap then ended each user's oldest sessions, the
  // readers' among them, and reads of ended sessions would be measured as logged-in reads.
  const readers = await loginAgain();
  const halfRate = Math.max(1, Math.round(read.load.rps / 2));
  const half = await measure(`GET /api/session, logged in, at ${halfRate} req/s (half)`, {
    method: 'GET',
    path: '/api/session',
    variants: readers,
    overallRate: halfRate,
  });
  return { ceiling, anonymous, read, write, login, half, readers, rows: [ceiling, anonymous, read, write, login, half] };
}

export type Scenarios = Awaited<ReturnType<typeof runScenarios>>;

/**
 * Throws unless every reader is still logged in: a read of an ended session costs one read script too, so nothing else
 * would tell a load of such reads from the logged-in reads it claims to measure.
 */
export async function expectLoggedIn(baseUrl: string, readers: LoadSpec['variants']): Promise<void> {
  for (const { headers } of readers) {
    const res = await send(`${baseUrl}/api/session`, { cookie: headers?.cookie ?? '' });
    if (res.status !== 200 || JSON.parse(res.body).authenticated !== true)
      throw new Error(`a reader is no longer logged in (GET /api/session: ${res.status || res.error})`);
  }
}
