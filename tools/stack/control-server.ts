import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { allowedEnv, checkControlRequest } from './control-auth.ts';
import type { Stack } from './start-stack.ts';
import { StackRequestError } from './state.ts';

// The stack's control API for end-to-end tests, on loopback only, for callers holding the run's token (see
// control-auth.ts). Every route answers JSON: the status of what it acted on, or { error } with 400 (a bad body or
// a setting a restart may not change), 401 (no token), 404 (unknown route or instance), 409 (wrong state),
// 415 (a body not declared JSON), 421 (a Host that is not ours) or 500 (it did not become ready in time).

type Action = (stack: Stack, body: { env?: NodeJS.ProcessEnv }) => Promise<unknown> | unknown;

const instanceActions: Record<string, (stack: Stack, n: number, body: { env?: NodeJS.ProcessEnv }) => Promise<unknown>> = {
  kill: (stack, n) => stack.instances.kill(n),
  stop: (stack, n) => stack.instances.stop(n),
  start: (stack, n, body) => stack.instances.start(n, body),
  restart: (stack, n, body) => stack.instances.restart(n, body),
  reload: (stack, n) => stack.instances.reload(n),
};
const redisActions: Record<string, Action> = {
  kill: (stack) => stack.redis.kill(),
  start: (stack) => stack.redis.startNodes(),
  pause: (stack) => stack.redis.pause(),
  resume: (stack) => stack.redis.resume(),
  switchover: (stack) => stack.redis.switchover(),
  'rolling-restart': (stack) => stack.redis.rollingRestart(),
  'restart-exporters': (stack) => stack.monitoring?.restartExporters() ?? [],
  'restart-sentinels': (stack) => stack.redis.restartSentinels(),
};

/** Whichever node is primary when asked: tests break the primary without knowing which node it is. */
const primaryActions: Record<string, Action> = {
  kill: (stack) => stack.redis.killPrimary(),
  pause: (stack) => stack.redis.pausePrimary(),
  resume: (stack) => stack.redis.resumePaused(),
};

/** The catalogue's cache Redis and PostgreSQL (404 when the stack runs without the catalogue). */
const catalogActions: Record<string, Record<string, Action>> = {
  cache: {
    kill: (stack) => catalogPart(stack.catalog?.cache).kill(),
    start: (stack) => catalogPart(stack.catalog?.cache).start(),
    pause: (stack) => catalogPart(stack.catalog?.cache).pause(),
    resume: (stack) => catalogPart(stack.catalog?.cache).resume(),
  },
  postgres: {
    stop: (stack) => catalogPart(stack.catalog?.postgres).stop(),
    start: (stack) => catalogPart(stack.catalog?.postgres).start(),
  },
};
function catalogPart<T>(part: T | undefined): T {
  if (!part) throw new StackRequestError(404, 'this stack runs without the catalogue');
  return part;
}

function route(method: string, path: string): Action | undefined {
  if (method === 'GET' && path === '/status') return (stack) => stack.describe();
  if (method !== 'POST') return undefined;
  const instance = /^\/instances\/(\d+)\/(\w+)$/.exec(path);
  if (instance) {
    const action = instanceActions[instance[2] ?? ''];
    const n = Number(instance[1]);
    return action && ((stack, body) => action(stack, n, body));
  }
  const dependency = /^\/(cache|postgres)\/(\w+)$/.exec(path);
  if (dependency) return catalogActions[dependency[1]!]?.[dependency[2]!];
  const primary = /^\/redis\/primary\/(\w+)$/.exec(path);
  if (primary) return primaryActions[primary[1] ?? ''];
  const redis = /^\/redis\/([\w-]+)$/.exec(path);
  return redis ? redisActions[redis[1] ?? ''] : undefined;
}

const MAX_BODY_BYTES = 16 * 1024;

async function readBody(req: IncomingMessage): Promise<{ env?: NodeJS.ProcessEnv }> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > MAX_BODY_BYTES) throw new StackRequestError(413, 'body too large');
  }
  if (!text.trim()) return {};
  const body = JSON.parse(text) as unknown;
  if (typeof body !== 'object' || body === null) throw new StackRequestError(400, 'the body must be a JSON object');
  return { env: allowedEnv((body as { env?: unknown }).env) };
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
}

/** Listens on 127.0.0.1:`port`, serving requests that carry `token`; the caller closes the returned server. */
export async function startControlServer(stack: Stack, { port, token }: { port: number; token: string }) {
  const server = createServer(async (req, res) => {
    try {
      checkControlRequest(req, { token, port });
      const action = route(req.method ?? 'GET', new URL(req.url ?? '/', 'http://control').pathname);
      if (!action) return send(res, 404, { error: `unknown route ${req.method} ${req.url}` });
      send(res, 200, await action(stack, await readBody(req)));
    } catch (err) {
      const status = err instanceof StackRequestError ? err.status : err instanceof SyntaxError ? 400 : 500;
      send(res, status, { error: err instanceof Error ? err.message : String(err) });
    }
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return server;
}
