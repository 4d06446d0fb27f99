import { Router } from 'express';
import { asRead } from '../reads.ts';

/** The paths this module routes, for the metrics' route labels (metrics.ts). */
export const API_PATHS = { session: '/api/session' } as const;

export function createApiRouter({ instanceId }: { instanceId: string }) {
  const router = Router();
  // Reads the session only: with saveUninitialized: false an anonymous caller never gets one created.
  router.get(
    API_PATHS.session,
    asRead((req, res) => {
      const user = req.session.user;
      res.json({ authenticated: Boolean(user), user: user ? { username: user.username } : null, instance: instanceId });
    }),
  );
  return router;
}
