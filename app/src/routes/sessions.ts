import { type Request, type Response, Router } from 'express';
import type { Config } from '../config.ts';
import type { createCsrf } from '../csrf.ts';
import { HttpError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { SessionListing } from '../session-index.ts';
import type { Sessions } from '../session.ts';
import { asRead, type ReadRequest } from '../reads.ts';
import type { Views } from '../views.ts';
import { type CheckPassword, requireUser, requireUserOrLogin, usernameOf } from './policies.ts';

type Deps = {
  config: Pick<Config, 'session'>;
  views: Views;
  csrf: ReturnType<typeof createCsrf>;
  checkPassword: CheckPassword;
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

/** The paths this module routes, for the metrics' route labels (metrics.ts). */
export const SESSIONS_PATHS = {
  api: '/api/sessions',
  page: '/sessions',
  revokeOthers: '/sessions/revoke-others',
  revokeAll: '/sessions/revoke-all',
  revoke: '/sessions/:id/revoke',
} as const;

/**
 * "Your sessions": where the user is logged in, and ending any of those sessions (OWASP ASVS 5.0 V7.4.3, V7.5.2).
 * Ending sessions asks for the password again, counted by the login throttle like a login attempt.
 */
export function createSessionsRouter({ config, views, csrf, checkPassword, sessions, metrics }: Deps) {
  const router = Router();

  const page = async (req: ReadRequest, res: Response, status = 200, error?: string) => {
    const username = usernameOf(req);
    views.render(res, status, 'sessions', {
      user: req.session.user,
      sessions: await sessions.index.list(username, req.sessionID),
      maxPerUser: config.session.maxPerUser,
      csrfToken: csrf.token(req, res),
      error,
    });
  };

  router.get(
    SESSIONS_PATHS.api,
    requireUser('see your sessions'),
    asRead(async (req, res) => {
      res.json({ sessions: (await sessions.index.list(usernameOf(req), req.sessionID)).map(asJson) });
    }),
  );

  router.get(
    SESSIONS_PATHS.page,
    requireUserOrLogin,
    asRead((req, res) => page(req, res)),
  );

  /** The logged-in user, once their password is confirmed; otherwise the answer is sent and undefined returned. */
  async function confirmed(req: Request, res: Response): Promise<string | undefined> {
    const password = typeof req.body?.password === 'string' && req.body.password.length <= 1024 ? req.body.password : '';
    if (!password) return void (await page(req, res, 400, 'Enter your password to end sessions.'));
    const check = await checkPassword(req, usernameOf(req), password);
    if ('retryAfterS' in check) {
      res.set('Retry-After', String(check.retryAfterS));
      return void (await page(req, res, 429, 'Too many wrong passwords. Try again later.'));
    }
    if ('wrong' in check) return void (await page(req, res, 401, 'Wrong password.'));
    return check.user;
  }

  const manage = requireUser('manage your sessions');

  router.post(SESSIONS_PATHS.revokeOthers, manage, async (req, res) => {
    const username = await confirmed(req, res);
    if (!username) return;
    const ended = await sessions.index.revokeAllBut(username, req.sessionID);
    metrics.sessionsRevoked('others_logged_out', ended);
    req.log.info({ user: username, ended }, 'other sessions ended');
    res.redirect(303, '/sessions');
  });

  router.post(SESSIONS_PATHS.revokeAll, manage, async (req, res) => {
    const username = await confirmed(req, res);
    if (!username) return;
    const ended = await sessions.index.revokeAllBut(username);
    metrics.sessionsRevoked('revoked', ended);
    req.log.info({ user: username, ended }, 'every session ended');
    await sessions.logout(req, res);
    res.redirect(303, '/');
  });

  router.post(SESSIONS_PATHS.revoke, manage, async (req, res) => {
    const handle = String(req.params.id);
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
