import { Router } from 'express';
import type { createCsrf } from '../csrf.ts';
import type { Metrics } from '../metrics.ts';
import type { Sessions } from '../session.ts';
import type { Views } from '../views.ts';
import type { CheckPassword } from './policies.ts';

type Deps = {
  views: Views;
  csrf: ReturnType<typeof createCsrf>;
  checkPassword: CheckPassword;
  sessions: Sessions;
  metrics: Pick<Metrics, 'loginOutcome' | 'sessionsRevoked'>;
};

const field = (value: unknown, max: number) => (typeof value === 'string' && value.length <= max ? value : '');

/** The paths this module routes, for the metrics' route labels (metrics.ts). */
export const AUTH_PATHS = { login: '/login', logout: '/logout' } as const;

export function createAuthRouter({ views, csrf, checkPassword, sessions, metrics }: Deps) {
  const router = Router();

  router.post(AUTH_PATHS.login, async (req, res) => {
    const username = field(req.body?.username, 64).trim();
    const password = field(req.body?.password, 1024);
    const fail = (status: number, error: string, headers: Record<string, string> = {}) =>
      views.render(res.set(headers), status, 'login', { error, username, csrfToken: csrf.token(req, res) });

    if (!username || !password) return fail(400, 'Enter your username and password.');
    const check = await checkPassword(req, username, password);
    if ('retryAfterS' in check) {
      metrics.loginOutcome('throttled');
      const minutes = Math.ceil(check.retryAfterS / 60);
      return fail(429, `Too many failed attempts. Try again later (in about ${minutes} minute${minutes === 1 ? '' : 's'}).`, {
        'Retry-After': String(check.retryAfterS),
      });
    }
    if ('wrong' in check) {
      metrics.loginOutcome('wrong_password');
      return fail(401, 'Wrong username or password.');
    }
    const { user } = check;

    await sessions.login(req, user);
    metrics.loginOutcome('success');
    req.log.info({ user }, 'login');
    res.redirect(303, '/');
  });

  router.post(AUTH_PATHS.logout, async (req, res) => {
    const user = req.session.user?.username;
    await sessions.logout(req, res);
    if (user) {
      metrics.sessionsRevoked('logout');
      req.log.info({ user }, 'logout');
    }
    res.redirect(303, '/');
  });

  return router;
}
