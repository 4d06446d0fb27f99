import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import { type CatalogDeps, createCatalogModule } from './catalog/index.ts';
import { CATALOG_PATHS } from './catalog/routes.ts';
import type { Config } from './config.ts';
import { createCsrf } from './csrf.ts';
import { HttpError } from './errors.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import type { Logger } from './log.ts';
import type { SessionRedis } from './session-redis.ts';
import { API_PATHS, createApiRouter } from './routes/api.ts';
import { AUTH_PATHS, createAuthRouter } from './routes/auth.ts';
import { createHealthRouter, HEALTH_PATHS } from './routes/health.ts';
import { createPagesRouter, PAGE_PATHS } from './routes/pages.ts';
import { createPasswordCheck } from './routes/policies.ts';
import { createSessionsRouter, SESSIONS_PATHS } from './routes/sessions.ts';
import { createRedisTopology, createStatusRouter, type RedisTopology, STATUS_PATHS } from './routes/status.ts';
import { createSessions } from './session.ts';
import { createLoginThrottle } from './throttle.ts';
import type { UserDirectory } from './users.ts';
import { createViews, type Views } from './views.ts';
import { isRead } from './reads.ts';

export type AppDeps = {
  config: Config;
  redis: SessionRedis;
  users: UserDirectory;
  log: Logger;
  isShuttingDown?: () => boolean;
  /** The instance's metrics (server.ts serves them on METRICS_PORT); a private set when not given. */
  metrics?: Metrics;
  /** The product catalogue (PostgreSQL + cache Redis); absent, its routes are not mounted. */
  catalog?: CatalogDeps;
  /** The session Redis's primary as the client follows it (server.ts); from the configuration when not given. */
  redisTopology?: RedisTopology;
};

const BODY_LIMIT = '8kb';
const REQUEST_ID = /^[\w-]{1,64}$/;

declare module 'express-serve-static-core' {
  interface Request {
    /** From nginx's X-Request-Id (or made here without nginx): ties the app's log lines to nginx's access log. */
    id: string;
    log: Logger;
  }
}

/** Builds the Express app from its dependencies. No I/O, never listens: server.ts and the tests do that. */
export function createApp({ config, redis, users, log, isShuttingDown = () => false, metrics, catalog, redisTopology }: AppDeps) {
  metrics ??= createMetrics({ instanceId: config.instanceId, defaultMetrics: false });
  const app = express();
  const views = createViews({ instanceId: config.instanceId });
  const csrf = createCsrf({ secrets: config.session.secrets });
  const sessions = createSessions({ config, redis, metrics });
  const throttle = createLoginThrottle({ redis, config });

  app.disable('x-powered-by');
  // Responses here are per user and `no-store`, or static files (which send their own ETag): Express's ETag, a hash
  // of every body, buys nothing for them.
  app.set('etag', false);
  // Exactly the number of proxies in front of us (nginx: 1), so req.ip and req.secure come from X-Forwarded-*.
  app.set('trust proxy', config.trustProxy);
  // First, so every request is timed and counted, whatever answers it.
  app.use(metrics.httpMiddleware);
  metrics.routes(
    [API_PATHS, AUTH_PATHS, HEALTH_PATHS, PAGE_PATHS, SESSIONS_PATHS, STATUS_PATHS, ...(catalog ? [CATALOG_PATHS] : [])].flatMap(
      (paths) => Object.values(paths),
    ),
  );

  // Built only when a line is logged; no headers, so no cookies and no session IDs in the log.
  Object.defineProperty(app.request, 'log', {
    get(this: Request) {
      return log.child({ req: { id: this.id, method: this.method, path: this.path } });
    },
  });
  const securityHeaders = constantHeaders(
    helmet({
      contentSecurityPolicy: {
        directives: {
          'script-src': ["'self'"],
          'style-src': ["'self'"],
          'connect-src': ["'self'"],
          'form-action': ["'self'"],
          'frame-ancestors': ["'none'"],
          // The demo runs on plain HTTP on localhost; upgrading would break it. TLS deployments add HSTS at the proxy.
          'upgrade-insecure-requests': null,
        },
      },
      // Plain HTTP on localhost must keep working; HSTS belongs on the TLS-terminating proxy.
      strictTransportSecurity: false,
      // Not helmet's no-referrer: under it browsers post forms with `Origin: null`, which the CSRF check refuses.
      referrerPolicy: { policy: 'same-origin' },
    }),
  );
  // One access log line per request, written by nginx (infra/nginx/nginx.conf: request id, instance, status, timing):
  // a second line from the app would double the log and cost it a write per request. The app logs what nginx cannot
  // see (logins, failures), under the same request id.
  // One middleware for every header that every response carries.
  app.use((req, res, next) => {
    const fromProxy = req.headers['x-request-id'];
    req.id = typeof fromProxy === 'string' && REQUEST_ID.test(fromProxy) ? fromProxy : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    res.setHeader('X-Instance-Id', config.instanceId);
    for (const [name, value] of securityHeaders) res.setHeader(name, value);
    next();
  });

  app.use(createHealthRouter({ redis, isShuttingDown }));
  app.use('/static', express.static(join(import.meta.dirname, 'public'), { index: false, maxAge: '1h' }));

  // Everything below is per user: never cached by browsers or proxies (the back button must not show a dashboard).
  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  // Reads (reads.ts), most of the traffic, carry no body and need no CSRF check: they skip both. Every other method gets the
  // parsers and the check, so a route added later is protected without being listed anywhere.
  const forms = express.Router();
  forms.use(express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 20 }));
  forms.use(express.json({ limit: BODY_LIMIT }));
  // Before the session, so a forged post costs no Redis round trip.
  forms.use(csrf.protect);
  app.use((req, res, next) => (isRead(req) ? next() : forms(req, res, next)));
  app.use(sessions.middleware);

  // The API first: its reads are most of the traffic, and need not walk past the page routes.
  app.use(createApiRouter({ instanceId: config.instanceId }));
  app.use(
    createStatusRouter({
      instanceId: config.instanceId,
      secret: config.session.secrets[0]!,
      redis: redisTopology ?? createRedisTopology(config),
      ...(catalog ? { cacheCounts: metrics.cacheCounts } : {}),
    }),
  );
  app.use(createPagesRouter({ config, views, csrf }));
  const checkPassword = createPasswordCheck({ users, throttle });
  app.use(createAuthRouter({ views, csrf, checkPassword, sessions, metrics }));
  app.use(createSessionsRouter({ config, views, csrf, checkPassword, sessions, metrics }));
  if (catalog) app.use(createCatalogModule(catalog, { views, csrf, log, instanceId: config.instanceId }).router);

  app.use((req, _res, next) => next(new HttpError(404, `Nothing here: ${req.method} ${req.path}`)));
  app.use(createErrorHandler(views));
  return app;
}

const CLIENT_ERROR_MESSAGES: Record<string, string> = {
  'entity.too.large': 'The request body is too large.',
  'entity.parse.failed': 'The request body is malformed.',
  'encoding.unsupported': 'The request body has an unsupported encoding.',
  'charset.unsupported': 'The request body has an unsupported charset.',
  'parameters.too.many': 'The request has too many fields.',
};

const TITLES: Record<number, string> = {
  400: 'Bad request',
  403: 'Forbidden',
  404: 'Not found',
  413: 'Too large',
  503: 'Try again shortly',
};

/** The last middleware: 4xx say what was wrong, 5xx are logged and answered without detail. */
function createErrorHandler(views: Views): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const status = errorStatus(err);
    const message =
      err instanceof HttpError
        ? err.message
        : status < 500
          ? (CLIENT_ERROR_MESSAGES[err?.type] ?? 'The request could not be processed.')
          : 'Something went wrong on our side.';
    // Logged once: a deliberate 503 (a dependency away) is expected and says why at warn, without a stack; a 500 is a
    // bug, logged at error with its error and stack. Everything else is in nginx's access log.
    if (status === 503) req.log.warn({ status, cause: causeOf(err) }, 'dependency unavailable');
    else if (status >= 500) req.log.error({ status, err }, 'request failed');

    // Too late for an error page: cut a response still being written, leave a finished one (and its socket) alone.
    if (res.headersSent) {
      if (!res.writableEnded) req.socket.destroy();
      return;
    }
    res.set(err instanceof HttpError ? err.headers : {});
    if (prefersJson(req)) res.status(status).json({ error: message });
    else views.render(res, status, 'error', { title: TITLES[status] ?? 'Error', message });
  };
}

function causeOf(err: unknown): string | undefined {
  return err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
}

/**
 * helmet's headers, computed once: with a fixed policy they are the same for every response, so each response only
 * copies them instead of running helmet's dozen middlewares (fails loudly if a policy ever depends on the request).
 */
function constantHeaders(middleware: RequestHandler): [string, string][] {
  const headers: [string, string][] = [];
  let called = false;
  const res = {
    setHeader: (name: string, value: unknown) => headers.push([name, String(value)]),
    removeHeader: () => {},
  };
  middleware({} as Request, res as unknown as Response, () => (called = true));
  if (!called) throw new Error('helmet did not finish synchronously; its headers cannot be precomputed');
  return headers;
}

function errorStatus(err: unknown): number {
  // body-parser answers too many fields with 413, as if the body were too large; it is a malformed form.
  if ((err as { type?: unknown })?.type === 'parameters.too.many') return 400;
  const status = (err as { status?: unknown })?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

function prefersJson(req: Request): boolean {
  return req.path.startsWith('/api/') || req.accepts(['html', 'json']) === 'json';
}
