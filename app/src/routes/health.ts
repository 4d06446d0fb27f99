import { Router } from 'express';
import { RETRY_AFTER_S } from '../errors.ts';
import type { SessionRedis } from '../session-redis.ts';

const READINESS_PING_TIMEOUT_MS = 250;

/** The paths this module routes, for the metrics' route labels (metrics.ts). */
export const HEALTH_PATHS = { live: '/healthz', ready: '/readyz' } as const;

/** Liveness never touches Redis (a Redis outage must not get healthy instances restarted); readiness does. */
export function createHealthRouter({ redis, isShuttingDown }: { redis: SessionRedis; isShuttingDown: () => boolean }) {
  const router = Router();
  router.get(HEALTH_PATHS.live, (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get(HEALTH_PATHS.ready, async (_req, res) => {
    const problem = isShuttingDown()
      ? 'shutting down'
      : (await redis.isAnswering(READINESS_PING_TIMEOUT_MS))
        ? undefined
        : 'redis unavailable';
    if (problem) res.status(503).set('Retry-After', String(RETRY_AFTER_S)).json({ status: problem });
    else res.json({ status: 'ready' });
  });
  return router;
}
