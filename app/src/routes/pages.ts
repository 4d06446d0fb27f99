import { Router } from 'express';
import type { Config } from '../config.ts';
import type { createCsrf } from '../csrf.ts';
import { HttpError } from '../errors.ts';
import { saveSession } from '../session.ts';
import { slideStepMs } from '../session-store.ts';
import { asRead } from '../reads.ts';
import type { Views } from '../views.ts';
import { requireUser } from './policies.ts';

type Deps = { config: Pick<Config, 'session' | 'catalog'>; views: Views; csrf: ReturnType<typeof createCsrf> };

/** The paths this module routes, for the metrics' route labels (metrics.ts). */
export const PAGE_PATHS = { home: '/', login: '/login', preferences: '/preferences' } as const;

export function createPagesRouter({ config, views, csrf }: Deps) {
  const router = Router();
  const { idleTimeoutS, absoluteTimeoutS } = config.session;

  router.get(
    PAGE_PATHS.home,
    asRead((req, res) => {
      const { user, loginAt } = req.session;
      if (!user || !loginAt) return views.render(res, 200, 'home', {});
      views.render(res, 200, 'home', {
        user,
        theme: req.session.theme ?? 'light',
        csrfToken: csrf.token(req, res),
        loginAt: new Date(loginAt),
        // This request's read slid the idle timeout unless it had within the last step (session-store.ts), so the
        // session ends no earlier than this, and at most a step later: never shown later than it is.
        idleExpiry: new Date(
          Math.min(Date.now() + idleTimeoutS * 1000 - slideStepMs(idleTimeoutS), loginAt + absoluteTimeoutS * 1000),
        ),
        idleMinutes: Math.round(idleTimeoutS / 60),
        absoluteExpiry: new Date(loginAt + absoluteTimeoutS * 1000),
        catalog: config.catalog !== undefined,
      });
    }),
  );

  router.get(
    PAGE_PATHS.login,
    asRead((req, res) => {
      if (req.session.user) return res.redirect(303, '/');
      views.render(res, 200, 'login', { csrfToken: csrf.token(req, res) });
    }),
  );

  // A session write other than login: the logged-in user's colour theme.
  router.post(PAGE_PATHS.preferences, requireUser('change your preferences'), async (req, res) => {
    const theme = req.body?.theme;
    if (theme !== 'light' && theme !== 'dark') throw new HttpError(400, 'Choose the light or the dark theme.');
    req.session.theme = theme;
    // Saved before answering, so a failed write is a 503, not a redirect that pretends it worked.
    await saveSession(req);
    res.redirect(303, '/');
  });

  return router;
}
