import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parse } from 'cookie';
import type { Request, RequestHandler, Response } from 'express';
import { HttpError } from './errors.ts';

const COOKIE = 'csrf';
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Signed double-submit tokens (OWASP CSRF cheat sheet): a random value in an HttpOnly cookie and, in every form,
 * its HMAC under the session secret. Works before login without creating a server session, costs no Redis call,
 * and survives secret rotation (any configured secret verifies; the first one signs).
 * On top, a form post from any other origin is refused by its Origin / Sec-Fetch-Site headers. That check is also what
 * defeats "cookie tossing" from a sibling subdomain (which could plant a cookie and token pair of its own): its posts
 * carry its own origin. The token is therefore not bound to the session, which keeps it free of Redis and of login.
 */
export function createCsrf({ secrets }: { secrets: readonly string[] }) {
  // Labelled, so an HMAC made with the session secret for one purpose can never stand in for another (cookie signatures).
  const sign = (value: string, secret: string) => createHmac('sha256', secret).update(`csrf-token\0${value}`).digest('base64url');

  function cookieValue(req: Request): string | undefined {
    const value = req.headers.cookie ? parse(req.headers.cookie)[COOKIE] : undefined;
    return value && /^[\w-]{43}$/.test(value) ? value : undefined;
  }

  /** The token for forms on this page; sets the cookie on the first visit. */
  function token(req: Request, res: Response): string {
    let value = cookieValue(req);
    if (!value) {
      value = randomBytes(32).toString('base64url');
      res.cookie(COOKIE, value, { httpOnly: true, sameSite: 'lax', secure: req.secure, path: '/' });
    }
    return sign(value, secrets[0]!);
  }

  function isCrossSite(req: Request): boolean {
    if (req.get('sec-fetch-site') === 'cross-site') return true;
    const origin = req.get('origin');
    if (!origin || origin === 'null') return origin === 'null';
    try {
      return new URL(origin).host !== req.get('host');
    } catch {
      return true;
    }
  }

  const protect: RequestHandler = (req, _res, next) => {
    if (!UNSAFE_METHODS.has(req.method)) return next();
    const value = cookieValue(req);
    const submitted = typeof req.body?._csrf === 'string' ? req.body._csrf : req.get('x-csrf-token');
    const valid =
      value !== undefined &&
      typeof submitted === 'string' &&
      secrets.some((secret) => {
        const expected = Buffer.from(sign(value, secret));
        const actual = Buffer.from(submitted);
        return expected.length === actual.length && timingSafeEqual(expected, actual);
      });
    if (isCrossSite(req) || !valid) {
      return next(new HttpError(403, 'This form has expired or did not come from this site. Reload the page and try again.'));
    }
    next();
  };

  return { token, protect };
}
