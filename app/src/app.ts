import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import express, { type ErrorRequestHandler, type Request } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { type CatalogDeps, createCatalogModule } from './catalog/index.ts';
import type { Config } from './config.ts';
import { createCsrf } from './csrf.ts';
import { HttpError } from './errors.ts';
import type { Logger } from './log.ts';
import type { RedisClient } from './redis.ts';
import { createApiRouter } from './routes/api.ts';
import { createAuthRouter } from './routes/auth.ts';
import { createHealthRouter } from './routes/health.ts';
import { createPagesRouter } from './routes/pages.ts';
import { createSessions } from './session.ts';
import { createLoginThrottle } from './throttle.ts';
import type { UserDirectory } from './users.ts';
import { createViews, type Views } from './views.ts';

export type AppDeps = {
  config: Config;
  redis: RedisClient;
  users: UserDirectory;
  log: Logger;
  isShuttingDown?: () => boolean;
  /** The product catalogue (PostgreSQL + cache Redis); absent, its routes are not mounted. */
  catalog?: CatalogDeps;
};

const BODY_LIMIT = '8kb';

/** Builds the Express app from its dependencies. No I/O, never listens: server.ts and the tests do that. */
export function createApp({ config, redis, users, log, isShuttingDown = () => false, catalog }: AppDeps) {
  const app = express();
  const views = createViews({ instanceId: config.instanceId });
  const csrf = createCsrf({ secrets: config.session.secrets });
  const sessions = createSessions({ config, redis });
  const throttle = createLoginThrottle({ redis, config });

  app.disable('x-powered-by');
  // Exactly the number of proxies in front of us (nginx: 1), so req.ip and req.secure come from X-Forwarded-*.
  app.set('trust proxy', config.trustProxy);

  app.use((_req, res, next) => {
    res.set('X-Instance-Id', config.instanceId);
    next();
  });
  app.use(
    pinoHttp({
      logger: log,
      genReqId: (req, res) => {
        const fromProxy = req.headers['x-request-id'];
        const id = typeof fromProxy === 'string' && /^[\w-]{1,64}$/.test(fromProxy) ? fromProxy : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Probes would drown the log; everything else gets one line per request.
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
      // Method, path and status only: no headers, so no cookies and no session IDs in the log.
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          path: req.url.split('?')[0],
        }),
        res: (res: { statusCode: number }) => ({ status: res.statusCode }),
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    }),
  );
  app.use(
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

  app.use(createHealthRouter({ redis, isShuttingDown }));
  app.use('/static', express.static(join(import.meta.dirname, 'public'), { index: false, maxAge: '1h' }));

  // Everything below is per user: never cached by browsers or proxies (the back button must not show a dashboard).
  app.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  app.use(express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 20 }));
  app.use(express.json({ limit: BODY_LIMIT }));
  // Before the session, so a forged post costs no Redis round trip.
  app.use(csrf.protect);
  app.use(sessions.middleware);

  app.use(createPagesRouter({ config, views, csrf }));
  app.use(createAuthRouter({ views, csrf, users, throttle, sessions }));
  app.use(createApiRouter({ instanceId: config.instanceId }));
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
    if (status === 503) req.log.warn({ cause: (err.cause as Error | undefined)?.message }, 'dependency unavailable');
    else if (status >= 500) req.log.error({ err }, 'request failed');

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

function errorStatus(err: unknown): number {
  const status = (err as { status?: unknown })?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

function prefersJson(req: Request): boolean {
  return req.path.startsWith('/api/') || req.accepts(['html', 'json']) === 'json';
}
