import type { Request, RequestHandler } from 'express';
import { HttpError } from '../errors.ts';
import type { ReadRequest } from '../reads.ts';
import type { LoginThrottle } from '../throttle.ts';
import type { UserDirectory } from '../users.ts';

// Who may do what, each written once: a route declares its policy instead of checking the session itself.

/** Lets a logged-in user through; anyone else gets a 401 saying `what` to log in for (JSON for the API, else a page). */
export const requireUser =
  (what: string): RequestHandler =>
  (req, _res, next) =>
    next(req.session.user ? undefined : new HttpError(401, `Log in to ${what}.`));

/** Lets a logged-in user through to a page; sends anyone else to the login form. */
export const requireUserOrLogin: RequestHandler = (req, res, next) => (req.session.user ? next() : res.redirect(303, '/login'));

/** The logged-in user's name, behind requireUser or requireUserOrLogin. */
export const usernameOf = (req: ReadRequest): string => req.session.user!.username;

/** A password check's outcome: the canonical user, too many attempts (retry after, in seconds), or a wrong password. */
export type PasswordCheck = { user: string } | { retryAfterS: number } | { wrong: true };

/**
 * The one throttled password check, for logging in and for confirming a sensitive action (ending sessions): the
 * attempt is counted before the password is checked, so concurrent guesses cannot slip past the limit (throttle.ts),
 * and a right password takes the attempt back.
 */
export function createPasswordCheck({ users, throttle }: { users: UserDirectory; throttle: LoginThrottle }) {
  return async (req: Request, username: string, password: string): Promise<PasswordCheck> => {
    const address = req.ip ?? 'unknown';
    const retryAfterS = await throttle.attempt(username, address);
    if (retryAfterS > 0) return { retryAfterS };
    const user = await users.verify(username, password);
    if (!user) return { wrong: true };
    await throttle.succeeded(user, address);
    return { user };
  };
}

export type CheckPassword = ReturnType<typeof createPasswordCheck>;
