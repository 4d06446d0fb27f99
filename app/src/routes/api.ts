import { Router } from 'express';

export function createApiRouter({ instanceId }: { instanceId: string }) {
  const router = Router();
  // Reads the session only: with saveUninitialized: false an anonymous caller never gets one created.
  router.get('/api/session', (req, res) => {
    const user = req.session.user;
    res.json({ authenticated: Boolean(user), user: user ? { username: user.username } : null, instance: instanceId });
  });
  return router;
}
