// Logs users in through nginx the way a browser does (GET /login for the CSRF cookie and token, then the form post).
// Shared by the benchmark and the chaos suite.
import { createCookieJar } from './cookie-jar.ts';
import { send } from './http.ts';

export type LoggedInUser = {
  username: string;
  /** The Cookie header to send: `csrf=...; sid=...`. */
  cookie: string;
  /** The Cookie header of the same browser before login (`csrf=...` only): logging in again from here creates a new session. */
  csrfCookie: string;
  /** The `_csrf` form value matching the csrf cookie (valid for every form of this browser). */
  csrfToken: string;
  /** The session id, decoded from the signed cookie (its key in Redis: app/src/session-index.ts sessionKey). */
  sessionId: string;
};

/** The `_csrf` value of the first form in a page, or undefined. */
export const csrfTokenIn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];

/** express-session's cookie is `s:<id>.<signature>`, URL-encoded. */
export function sessionIdFromCookie(sid: string): string {
  const decoded = decodeURIComponent(sid);
  if (!decoded.startsWith('s:') || !decoded.includes('.')) throw new Error(`unexpected sid cookie format: ${sid}`);
  return decoded.slice(2, decoded.lastIndexOf('.'));
}

/** A fresh browser's login form: its cookie jar (holding the csrf cookie) and the matching token. */
export async function openLoginForm(baseUrl: string) {
  const res = await send(`${baseUrl}/login`);
  const jar = createCookieJar();
  jar.remember(res.headers['set-cookie']);
  const csrfToken = csrfTokenIn(res.body);
  if (res.status !== 200 || !csrfToken || !jar.get('csrf'))
    throw new Error(`GET /login: ${res.status || res.error}, no CSRF form`);
  return { jar, csrfToken };
}

/** One submission of the login form from a fresh browser: the answer, and that browser's cookies after it. */
export async function attemptLogin(baseUrl: string, username: string, password: string) {
  const { jar, csrfToken } = await openLoginForm(baseUrl);
  const csrfCookie = jar.header();
  const res = await send(`${baseUrl}/login`, {
    method: 'POST',
    cookie: csrfCookie,
    form: { username, password, _csrf: csrfToken },
  });
  jar.remember(res.headers['set-cookie']);
  return { res, jar, csrfCookie, csrfToken };
}

export async function login(baseUrl: string, username: string, password: string): Promise<LoggedInUser> {
  const { res, jar, csrfCookie, csrfToken } = await attemptLogin(baseUrl, username, password);
  const sid = jar.get('sid');
  if (res.status !== 303 || !sid) throw new Error(`POST /login as ${username}: ${res.status || res.error}, no session cookie`);
  return { username, cookie: jar.header(), csrfCookie, csrfToken, sessionId: sessionIdFromCookie(sid) };
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
