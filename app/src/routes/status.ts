import { createHmac } from 'node:crypto';
import { Router } from 'express';
import type { Config } from '../config.ts';
import type { CacheResult } from '../catalog/metrics.ts';
import { requireUser } from './policies.ts';

/**
 * The session Redis as this instance sees it: its kind, the primary's address ("host:port"; none for a cluster, which
 * has several, or while a Sentinel group's is unknown) and how many times it changed since the instance started.
 */
export type RedisTopology = { kind: 'single' | 'sentinel' | 'cluster'; primary: () => string | undefined; changes: () => number };

/**
 * The topology from the configuration, with `switched` to call when the client moves to another primary (the
 * Sentinel client's onPrimary). A single node's address is the URL's; a cluster's primaries are not followed here.
 */
export function createRedisTopology(config: Pick<Config, 'redis'>) {
  const kind = config.redis.sentinel ? 'sentinel' : config.redis.cluster ? 'cluster' : 'single';
  const url = new URL(config.redis.url);
  let primary = kind === 'single' ? `${url.hostname}:${url.port || 6379}` : undefined;
  let changes = 0;
  return {
    kind,
    primary: () => primary,
    changes: () => changes,
    switched(address: string) {
      if (primary !== undefined && address !== primary) changes++;
      primary = address;
    },
  } satisfies RedisTopology & Record<string, unknown>;
}

type Deps = {
  instanceId: string;
  /** The signing secret: the node label's key derives from it, so every instance names a node alike. */
  secret: string;
  redis: RedisTopology;
  /** This instance's product reads by result; absent without the catalogue. */
  cacheCounts?: () => Readonly<Record<CacheResult, number>>;
};

/** The paths this module routes, for the metrics' route labels (metrics.ts). */
export const STATUS_PATHS = { status: '/api/status' } as const;

/**
 * GET /api/status, the dashboard's live panel: what the hops cannot show. Which Redis node is the primary now, as a
 * label (`node-` and an HMAC of its address under a key derived from the session secret: the same on every instance,
 * different after a failover, and no address, port or secret in it), how many times this instance has seen the
 * primary change, and this instance's cache hit ratio. Logged-in users only.
 */
export function createStatusRouter({ instanceId, secret, redis, cacheCounts }: Deps) {
  const router = Router();
  const labelKey = createHmac('sha256', secret).update('redis-node-label').digest();
  const labelOf = (address: string) => `node-${createHmac('sha256', labelKey).update(address).digest('base64url').slice(0, 6)}`;

  router.get(STATUS_PATHS.status, requireUser('see the status'), (_req, res) => {
    const address = redis.primary();
    const counts = cacheCounts?.();
    const reads = counts ? counts.hit + counts.stale + counts.miss + counts.error : 0;
    const hits = counts ? counts.hit + counts.stale : 0;
    res.json({
      instance: instanceId,
      redis: { topology: redis.kind, primary: address ? labelOf(address) : null, primaryChanges: redis.changes() },
      cache: counts ? { reads, hits, hitRatio: reads === 0 ? null : hits / reads } : null,
    });
  });
  return router;
}
