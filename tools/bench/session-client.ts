// Logs users in through nginx the way a browser does (GET /login for the CSRF cookie and token, then the form post).
// Shared by the benchmark and the chaos suite.

export type LoggedInUser = {
  username: string;
  /** The Cookie header to send: `csrf=...; sid=...`. */
  cookie: string;
  /** The Cookie header of the same browser before login (`csrf=...` only): logging in again from here creates a new session. */
  csrfCookie: string;
  /** The `_csrf` form value matching the csrf cookie (valid for every form of this browser). */
  csrfToken: string;
  /** The session id as stored in Redis (`sess:<sessionId>`), decoded from the signed cookie. */
  sessionId: string;
};

/** `name=value` pairs from Set-Cookie headers (attributes dropped). */
function cookiePairs(headers: Headers): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const line of headers.getSetCookie()) {
    const [pair = ''] = line.split(';');
    const separator = pair.indexOf('=');
    if (separator > 0) pairs.set(pair.slice(0, separator).trim(), pair.slice(separator + 1).trim());
  }
  return pairs;
}

/** express-session's cookie is `s:<id>.<signature>`, URL-encoded. */
export function sessionIdFromCookie(sid: string): string {
  const decoded = decodeURIComponent(sid);
  if (!decoded.startsWith('s:') || !decoded.includes('.')) throw new Error(`unexpected sid cookie format: ${sid}`);
  return decoded.slice(2, decoded.lastIndexOf('.'));
}

const toCookieHeader = (pairs: Map<string, string>) => [...pairs].map(([name, value]) => `${name}=${value}`).join('; ');

/** A fresh browser's login form: its csrf cookie and the matching token. */
export async function openLoginForm(baseUrl: string): Promise<{ cookies: Map<string, string>; csrfToken: string }> {
  const res = await fetch(`${baseUrl}/login`, { redirect: 'manual', signal: AbortSignal.timeout(5_000) });
  const html = await res.text();
  const csrfToken = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  const cookies = cookiePairs(res.headers);
  if (res.status !== 200 || !csrfToken || !cookies.has('csrf')) throw new Error(`GET /login: ${res.status}, no CSRF form`);
  return { cookies, csrfToken };
}

export async function login(baseUrl: string, username: string, password: string): Promise<LoggedInUser> {
  const { cookies, csrfToken } = await openLoginForm(baseUrl);
  const res = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: toCookieHeader(cookies) },
    body: new URLSearchParams({ username, password, _csrf: csrfToken }).toString(),
    signal: AbortSignal.timeout(5_000),
  });
  await res.arrayBuffer();
  const csrfCookie = toCookieHeader(cookies);
  const sid = cookiePairs(res.headers).get('sid');
  if (res.status !== 303 || !sid) throw new Error(`POST /login as ${username}: ${res.status}, no session cookie`);
  cookies.set('sid', sid);
  return { username, cookie: toCookieHeader(cookies), csrfCookie, csrfToken, sessionId: sessionIdFromCookie(sid) };
}

/** Logs users in a few at a time (each login is ~25 ms of argon2id on some instance). */
export async function loginAll(baseUrl: string, users: { username: string; password: string }[], concurrency = 4) {
  const result: LoggedInUser[] = [];
  for (let i = 0; i < users.length; i += concurrency) {
    const batch = users.slice(i, i + concurrency);
    result.push(...(await Promise.all(batch.map(({ username, password }) => login(baseUrl, username, password)))));
  }
  return result;
}

/** `count` users named `<prefix>-1..count`; the DEMO_USERS value that creates them. */
export function makeUsers(prefix: string, count: number) {
  const users = Array.from({ length: count }, (_, i) => ({
    username: `${prefix}-${i + 1}`,
    password: `${prefix}-password-${i + 1}`,
  }));
  return { users, demoUsers: users.map(({ username, password }) => `${username}:${password}`).join(',') };
}
