import supertest from 'supertest';
import { createCookieJar } from '../../../tools/lib/cookie-jar.ts';
import { csrfTokenIn, sessionIdFromCookie } from '../../../tools/lib/session-client.ts';
import { sessionKey } from '../../src/keys.ts';
import type { Instance } from './instance.ts';
import { ALICE } from './users.ts';

/** What a test reads from a response, whether it came from an app object (supertest) or a listening server (fetch). */
export type Reply = { status: number; headers: Record<string, string | string[] | undefined>; text: string; body: any };

/** An app object, or the base URL of a listening server (`http://127.0.0.1:3001`). */
export type Target = Pick<Instance, 'app'> | string;

export { csrfTokenIn };

async function send(target: Target, method: 'GET' | 'POST', path: string, headers: Record<string, string>, form?: object) {
  if (typeof target === 'string') {
    const body = form && new URLSearchParams(form as Record<string, string>).toString();
    const type = form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {};
    const res = await fetch(target + path, { method, headers: { ...type, ...headers }, body, redirect: 'manual' });
    const text = await res.text();
    const json = res.headers.get('content-type')?.startsWith('application/json');
    return {
      status: res.status,
      headers: { ...Object.fromEntries(res.headers), 'set-cookie': res.headers.getSetCookie() },
      text,
      body: json ? JSON.parse(text) : {},
    };
  }
  const request = method === 'GET' ? supertest(target.app).get(path) : supertest(target.app).post(path).type('form');
  const res = await request.set(headers).send(form);
  return { status: res.status, headers: res.headers, text: res.text, body: res.body };
}

export type Browser = ReturnType<typeof createBrowser>;

/**
 * A cookie jar that can be pointed at any instance or server: what a browser does behind a load balancer.
 * It keeps cookies by name, as a browser does for one host and path.
 */
export function createBrowser() {
  const jar = createCookieJar();
  const cookieHeader = jar.header;
  const remember = (res: Reply) => {
    jar.remember(res.headers['set-cookie']);
    return res;
  };
  const on = (target: Target) => ({
    get: async (path: string, headers: Record<string, string> = {}) =>
      remember(await send(target, 'GET', path, { Cookie: cookieHeader(), ...headers })),
    post: async (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
      remember(await send(target, 'POST', path, { Cookie: cookieHeader(), ...headers }, form)),
  });

  return {
    jar,
    on,
    /** The token from the dashboard's logout form, or else from the login form. */
    async csrfToken(target: Target, headers: Record<string, string> = {}): Promise<string> {
      for (const path of ['/', '/login']) {
        const token = csrfTokenIn((await on(target).get(path, headers)).text);
        if (token) return token;
      }
      throw new Error('no CSRF token on / or /login');
    },
    async login(target: Target, user = ALICE, headers: Record<string, string> = {}) {
      const _csrf = await this.csrfToken(target, headers);
      return on(target).post('/login', { _csrf, ...user }, headers);
    },
    async logout(target: Target, headers: Record<string, string> = {}) {
      const _csrf = await this.csrfToken(target, headers);
      return on(target).post('/logout', { _csrf }, headers);
    },
    /** The session id in the jar's session cookie (`sid`, or `__Host-sid` over HTTPS), without its signature. */
    sessionId(): string | undefined {
      const cookie = jar.get('sid') ?? jar.get('__Host-sid');
      return cookie === undefined ? undefined : sessionIdFromCookie(cookie);
    },
    /** Its key in Redis (`sess:{tag}random` for a login's id: app/src/session-index.ts). */
    sessionKey(): string {
      return sessionKey(this.sessionId() ?? 'none');
    },
  };
}
