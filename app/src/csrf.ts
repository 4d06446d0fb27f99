import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { cookieName, cookieValues } from './cookies.ts';
import { HttpError } from './errors.ts';
import { isRead } from './reads.ts';

const COOKIE = 'csrf';

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

  // The first well-formed one, the same for the form and its post: a malformed cookie planted before ours is skipped.
  const cookieValue = (req: Pick<Request, 'headers' | 'secure'>) =>
    cookieValues(req, cookieName(COOKIE, req)).find((value) => /^[\w-]{43}$/.test(value));

  /** The token for forms on this page; sets the cookie on the first visit. */
  function token(req: Pick<Request, 'headers' | 'secure'>, res: Response): string {
    let value = cookieValue(req);
    if (!value) {
      value = randomBytes(32).toString('base64url');
      res.cookie(cookieName(COOKIE, req), value, { httpOnly: true, sameSite: 'lax', secure: req.secure, path: '/' });
    }
    return sign(value, secrets[0]!);
  }

  function isCrossSite(req: Request): boolean {
    if (req.get('sec-fetch-site') === 'cross-site') return true;
    const origin = req.get('origin');
    if (!origin || origin === 'null') return origin === 'null';
    // The whole origin, scheme included: an https page posting to the http site (or back) is another origin.
    try {
      return new URL(origin).origin !== new URL(`${req.protocol}://${req.get('host')}`).origin;
    } catch {
      return true;
    }
  }

  const protect: RequestHandler = (req, _res, next) => {
    if (isRead(req)) return next();
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
