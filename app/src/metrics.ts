import type { Request, RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheResult } from './catalog/metrics.ts';
import { ServiceUnavailableError } from './errors.ts';
import { DeadlineExceededError } from './redis.ts';

export type Metrics = ReturnType<typeof createMetrics>;

/** Session store operations, each timed with its outcome. */
export type StoreOperation = 'read' | 'write' | 'destroy';
export type StoreOutcome = 'ok' | 'timeout' | 'unavailable' | 'error';
export type LoginOutcome = 'success' | 'wrong_password' | 'throttled';
/** Why a session ended before its timeouts: the user logged out, or revoked it from another device. */
export type RevokeReason = 'logout' | 'revoked' | 'others_logged_out' | 'device_cap';

/** The names Prometheus, the alert rules, the dashboard and the tests share; renaming one breaks them all at once. */
export const METRIC = {
  httpDuration: 'http_request_duration_seconds',
  storeDuration: 'session_store_duration_seconds',
  redisReady: 'redis_client_ready',
  redisReconnects: 'redis_client_reconnects_total',
  logins: 'login_attempts_total',
  revoked: 'sessions_revoked_total',
  unreplicated: 'logins_unreplicated_total',
  cacheRequests: 'cache_requests_total',
  dbQueries: 'db_queries_total',
  info: 'app_info',
  caReloadSuccessful: 'redis_ca_last_reload_successful',
  caReloadTime: 'redis_ca_last_reload_timestamp_seconds',
} as const;

/** Requests that matched no route: one label value for every unknown path, so scanners cannot grow the series. */
export const UNMATCHED_ROUTE = 'unmatched';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

// A logged-in read takes ~150 µs in the app and ~0.2 ms through Redis; the top buckets catch the 500 ms deadline.
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const STORE_BUCKETS = [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

type WatchedClient = { readonly isReady: boolean; on(event: 'reconnecting', listener: () => void): unknown };

/**
 * Every metric of one instance, in a registry of its own: nothing is registered globally, so tests (and several
 * apps in one process) each get a fresh set. No label ever carries a user name, a session id or an address.
 */
export function createMetrics({ instanceId, defaultMetrics = true }: { instanceId: string; defaultMetrics?: boolean }) {
  const registry = new Registry();
  if (defaultMetrics) collectDefaultMetrics({ register: registry });

  new Gauge({
    name: METRIC.info,
    help: 'Always 1; the instance id as configured (INSTANCE_ID), to tell instances apart behind DNS discovery.',
    labelNames: ['instance_id'],
    registers: [registry],
  }).set({ instance_id: instanceId }, 1);

  const httpDuration = new Histogram({
    name: METRIC.httpDuration,
    help: 'HTTP requests answered by the app, by method, route pattern and status, from first byte in to last byte out.',
    labelNames: ['method', 'route', 'status'],
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const storeDuration = new Histogram({
    name: METRIC.storeDuration,
    help: 'Session store operations against Redis, by operation and outcome (timeout: no reply within the deadline).',
    labelNames: ['operation', 'outcome'],
    buckets: STORE_BUCKETS,
    registers: [registry],
  });
  const logins = new Counter({
    name: METRIC.logins,
    help: 'Login attempts by outcome.',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const revoked = new Counter({
    name: METRIC.revoked,
    help: 'Sessions ended before their timeouts, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const unreplicated = new Counter({
    name: METRIC.unreplicated,
    help: 'Logins no replica acknowledged within REDIS_WAIT_TIMEOUT_MS: a failover right then would lose them.',
    registers: [registry],
  });
  const cacheRequests = new Counter({
    name: METRIC.cacheRequests,
    help: 'Product reads by how they were served: hit, stale (past freshness, within grace), miss (the database), error (cache away).',
    labelNames: ['result'],
    registers: [registry],
  });
  const cacheCounts: Record<CacheResult, number> = { hit: 0, miss: 0, stale: 0, error: 0 };
  const dbQueries = new Counter({
    name: METRIC.dbQueries,
    help: 'Queries sent to PostgreSQL by the catalogue.',
    registers: [registry],
  });
  const reconnects = new Counter({
    name: METRIC.redisReconnects,
    help: 'Reconnection attempts of the Redis client, by Redis (session, cache).',
    labelNames: ['redis'],
    registers: [registry],
  });
  const watched = new Map<string, WatchedClient>();
  new Gauge({
    name: METRIC.redisReady,
    help: '1 if the Redis client is connected and ready, else 0, by Redis (session, cache).',
    labelNames: ['redis'],
    registers: [registry],
    // Read at scrape time from the client itself: always the current state, and nothing to do per event.
    collect() {
      for (const [name, client] of watched) this.set({ redis: name }, client.isReady ? 1 : 0);
    },
  });

  const caReloadSuccessful = new Gauge({
    name: METRIC.caReloadSuccessful,
    help: 'Whether the last reload of REDIS_TLS_CA_FILE (SIGHUP) succeeded: 1, or 0 and the CA read before stays trusted.',
    registers: [registry],
  });
  const caReloadTime = new Gauge({
    name: METRIC.caReloadTime,
    help: 'When REDIS_TLS_CA_FILE was last read (start or SIGHUP), successfully or not, in seconds since the epoch.',
    registers: [registry],
  });
  caReloadSuccessful.set(1);
  caReloadTime.set(Date.now() / 1000);

  // The app's fixed route paths (no parameters), as the route modules declare them (their *_PATHS; app.ts).
  const fixedPaths = new Set<string>();
  const routeOf = (req: Request): string => {
    if (req.route) return (req.baseUrl ?? '') + String(req.route.path);
    // A mounted middleware that answered itself (express.static under /static).
    if (req.baseUrl) return req.baseUrl;
    // Refused before routing (CSRF, body parser, session read): the route it was for, if its path is a fixed one.
    return fixedPaths.has(req.path) ? req.path : UNMATCHED_ROUTE;
  };

  /** First in the chain: times every request; the labels are decided when the response is finished. */
  const httpMiddleware: RequestHandler = (req, res, next) => {
    const start = performance.now();
    res.once('finish', () => {
      const method = METHODS.has(req.method) ? req.method : 'OTHER';
      // Plain observe(): measured faster than caching labels() children, which hash the labels on every call anyway.
      httpDuration.observe({ method, route: routeOf(req), status: String(res.statusCode) }, (performance.now() - start) / 1000);
    });
    next();
  };

  return {
    registry,
    httpMiddleware,

    /**
     * The paths the app routes, as its route modules declare them: a request refused before routing (CSRF, a body
     * parser, the session read) is labelled with its path if that is one of the fixed ones; parameterised paths
     * (with `:`) cannot be told from a scanner's and are skipped.
     */
    routes(paths: Iterable<string>) {
      for (const path of paths) if (!/[:*(]/.test(path)) fixedPaths.add(path);
    },

    /** Times a store command (already under its deadline) and passes its result or error through unchanged. */
    async observeStore<T>(operation: StoreOperation, command: Promise<T>): Promise<T> {
      const start = performance.now();
      let outcome: StoreOutcome = 'ok';
      try {
        return await command;
      } catch (err) {
        outcome = storeOutcome(err);
        throw err;
      } finally {
        storeDuration.observe({ operation, outcome }, (performance.now() - start) / 1000);
      }
    },

    /** Connection state (read at scrape time) and reconnects of one Redis client; `name` is a fixed role. */
    watchRedis(client: WatchedClient, name: 'session' | 'cache') {
      watched.set(name, client);
      reconnects.inc({ redis: name }, 0);
      client.on('reconnecting', () => reconnects.inc({ redis: name }));
    },

    /** The catalogue's counters (CatalogMetrics). */
    cacheRequest(result: CacheResult) {
      cacheRequests.inc({ result });
      cacheCounts[result]++;
    },
    /** This instance's product reads so far, by how they were served (for the dashboard's panel). */
    cacheCounts: (): Readonly<Record<CacheResult, number>> => ({ ...cacheCounts }),
    dbQuery() {
      dbQueries.inc();
    },

    /** A reload of REDIS_TLS_CA_FILE (server.ts, SIGHUP) done or refused. */
    redisCaReloaded(successful: boolean) {
      caReloadSuccessful.set(successful ? 1 : 0);
      caReloadTime.set(Date.now() / 1000);
    },

    loginUnreplicated() {
      unreplicated.inc();
    },

    loginOutcome(outcome: LoginOutcome) {
      logins.inc({ outcome });
    },

    sessionsRevoked(reason: RevokeReason, count = 1) {
      revoked.inc({ reason }, count);
    },
  };
}

function storeOutcome(err: unknown): StoreOutcome {
  if (!(err instanceof ServiceUnavailableError)) return 'error';
  return err.cause instanceof DeadlineExceededError ? 'timeout' : 'unavailable';
}
