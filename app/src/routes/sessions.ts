import { type Request, type Response, Router } from 'express';
import type { Config } from '../config.ts';
import type { createCsrf } from '../csrf.ts';
import { HttpError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { SessionListing } from '../session-index.ts';
import type { Sessions } from '../session.ts';
import type { LoginThrottle } from '../throttle.ts';
import type { UserDirectory } from '../users.ts';
import type { Views } from '../views.ts';

type Deps = {
  config: Pick<Config, 'session'>;
  views: Views;
  csrf: ReturnType<typeof createCsrf>;
  users: UserDirectory;
  throttle: LoginThrottle;
  sessions: Sessions;
  metrics: Pick<Metrics, 'sessionsRevoked'>;
};

const HANDLE = /^[\w-]{22}$/;
const asJson = ({ id, current, device, createdAt, lastSeenAt }: SessionListing) => ({
  id,
  current,
  device,
  createdAt: createdAt.toISOString(),
  lastSeenAt: lastSeenAt.toISOString(),
});

/**
 * "Your sessions": where the user is logged in, and ending any of those sessions (OWASP ASVS 5.0 V7.4.3, V7.5.2).
 * Ending sessions asks for the password again, counted by the login throttle like a login attempt.
 */
export function createSessionsRouter({ config, views, csrf, users, throttle, sessions, metrics }: Deps) {
  const router = Router();

  const page = async (req: Request, res: Response, status = 200, error?: string) => {
    const username = req.session.user!.username;
    views.render(res, status, 'sessions', {
      user: req.session.user,
      sessions: await sessions.index.list(username, req.sessionID),
      maxPerUser: config.session.maxPerUser,
      csrfToken: csrf.token(req, res),
      error,
    });
  };

  router.get('/api/sessions', async (req, res) => {
    const user = req.session.user;
    if (!user) return void res.status(401).json({ error: 'Log in to see your sessions.' });
    res.json({ sessions: (await sessions.index.list(user.username, req.sessionID)).map(asJson) });
  });

  router.get('/sessions', async (req, res) => {
    if (!req.session.user) return res.redirect(303, '/login');
    await page(req, res);
  });

  /** The logged-in user, once their password is confirmed; otherwise the answer is sent and undefined returned. */
  async function confirmed(req: Request, res: Response): Promise<string | undefined> {
    const username = req.session.user?.username;
    if (!username) throw new HttpError(401, 'Log in to manage your sessions.');
    const password = typeof req.body?.password === 'string' && req.body.password.length <= 1024 ? req.body.password : '';
    if (!password) return void (await page(req, res, 400, 'Enter your password to end sessions.'));
    const address = req.ip ?? 'unknown';
    const retryAfterS = await throttle.attempt(username, address);
    if (retryAfterS > 0) {
      res.set('Retry-After', String(retryAfterS));
      return void (await page(req, res, 429, 'Too many wrong passwords. Try again later.'));
    }
    if (!(await users.verify(username, password))) return void (await page(req, res, 401, 'Wrong password.'));
    await throttle.succeeded(username, address);
    return username;
  }

  router.post('/sessions/revoke-others', async (req, res) => {
    const username = await confirmed(req, res);
    if (!username) return;
    const ended = await sessions.index.revokeAllBut(username, req.sessionID);
    metrics.sessionsRevoked('others_logged_out', ended);
    req.log.info({ user: username, ended }, 'other sessions ended');
    res.redirect(303, '/sessions');
  });

  router.post('/sessions/revoke-all', async (req, res) => {
    const username = await confirmed(req, res);
    if (!username) return;
    const ended = await sessions.index.revokeAllBut(username);
    metrics.sessionsRevoked('revoked', ended);
    req.log.info({ user: username, ended }, 'every session ended');
    await sessions.logout(req, res);
    res.redirect(303, '/');
  });

  router.post('/sessions/:id/revoke', async (req, res) => {
    const handle = String(req.params.id);
    if (!req.session.user) throw new HttpError(401, 'Log in to manage your sessions.');
    if (!HANDLE.test(handle)) throw new HttpError(404, 'No such session.');
    const username = await confirmed(req, res);
    if (!username) return;
    if (!(await sessions.index.revoke(username, handle))) throw new HttpError(404, 'No such session.');
    metrics.sessionsRevoked('revoked');
    req.log.info({ user: username }, 'session ended');
    res.redirect(303, '/sessions');
  });

  return router;
}
