import { Router } from 'express';
import type { createCsrf } from '../csrf.ts';
import type { Metrics } from '../metrics.ts';
import type { Sessions } from '../session.ts';
import type { LoginThrottle } from '../throttle.ts';
import type { UserDirectory } from '../users.ts';
import type { Views } from '../views.ts';

type Deps = {
  views: Views;
  csrf: ReturnType<typeof createCsrf>;
  users: UserDirectory;
  throttle: LoginThrottle;
  sessions: Sessions;
  metrics: Pick<Metrics, 'loginOutcome' | 'sessionsRevoked'>;
};

const field = (value: unknown, max: number) => (typeof value === 'string' && value.length <= max ? value : '');

export function createAuthRouter({ views, csrf, users, throttle, sessions, metrics }: Deps) {
  const router = Router();

  router.post('/login', async (req, res) => {
    const username = field(req.body?.username, 64).trim();
    const password = field(req.body?.password, 1024);
    const fail = (status: number, error: string, headers: Record<string, string> = {}) =>
      views.render(res.set(headers), status, 'login', { error, username, csrfToken: csrf.token(req, res) });

    if (!username || !password) return fail(400, 'Enter your username and password.');
    const address = req.ip ?? 'unknown';
    const retryAfterS = await throttle.attempt(username, address);
    if (retryAfterS > 0) {
      metrics.loginOutcome('throttled');
      const minutes = Math.ceil(retryAfterS / 60);
      return fail(429, `Too many failed attempts. Try again later (in about ${minutes} minute${minutes === 1 ? '' : 's'}).`, {
        'Retry-After': String(retryAfterS),
      });
    }
    const user = await users.verify(username, password);
    if (!user) {
      metrics.loginOutcome('wrong_password');
      return fail(401, 'Wrong username or password.');
    }
    await throttle.succeeded(user, address);

    await sessions.login(req, user);
    metrics.loginOutcome('success');
    req.log.info({ user }, 'login');
    res.redirect(303, '/');
  });

  router.post('/logout', async (req, res) => {
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
