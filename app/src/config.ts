import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { parseCatalogConfig } from './catalog/config.ts';
import { type Env, isProduction, nodeEnv, resolveFileVariables, variablesOf } from './env.ts';

// The only module that reads the environment. Everything else receives a Config.

const DEV_SESSION_SECRET = 'development-only-session-secret-not-for-production';
const DEV_REDIS_URL = 'redis://127.0.0.1:6379';
const DEV_DEMO_USERS = 'alice:alice-password-1,bob:bob-password-2';

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const flag = z
  .enum(['true', 'false'])
  .default('false')
  .transform((value) => value === 'true');

const demoUsers = z.string().transform((value, ctx) => {
  const users: { username: string; password: string }[] = [];
  for (const entry of value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf(':');
    const username = entry.slice(0, separator);
    const password = entry.slice(separator + 1);
    if (separator < 1 || !/^[a-zA-Z0-9._-]{1,64}$/.test(username) || password.length < 8) {
      ctx.addIssue({ code: 'custom', message: 'expected name:password pairs (name [a-zA-Z0-9._-], password of 8+ characters)' });
      return z.NEVER;
    }
    users.push({ username: username.toLowerCase(), password });
  }
  return users;
});

const hostPortList = z.string().transform((value, ctx) => {
  const sentinels: { host: string; port: number }[] = [];
  for (const entry of value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const match = /^([\w.-]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `expected host:port pairs separated by commas, got "${entry}"` });
      return z.NEVER;
    }
    sentinels.push({ host: match[1]!, port });
  }
  if (sentinels.length === 0) ctx.addIssue({ code: 'custom', message: 'expected at least one host:port' });
  return sentinels;
});

/** What is wrong with a REDIS_URL: its scheme, when it has another one (only the scheme: a URL may carry a password). */
function notRedisUrl(input: unknown): string {
  const scheme = /^([a-z][\w+.-]*):\/\//i.exec(String(input))?.[1];
  return `expected a redis:// or rediss:// URL${scheme && !/^rediss?$/i.test(scheme) ? `, not ${scheme}://` : ''}`;
}

const schema = z.object({
  NODE_ENV: nodeEnv,
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  INSTANCE_ID: z
    .string()
    .regex(/^[\w.-]{1,64}$/)
    .default(hostname()),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: (issue) => notRedisUrl(issue.input) }).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().positive().default(500),
  // Verifies the servers' certificates for rediss:// (and the Sentinels); unset, Node's bundled CAs are trusted.
  REDIS_TLS_CA_FILE: z.string().min(1).optional(),
  REDIS_SENTINELS: hostPortList.optional(),
  // Seed nodes of a Redis Cluster; the client discovers the rest and follows slot moves and failovers.
  REDIS_CLUSTER_NODES: hostPortList.optional(),
  REDIS_SENTINEL_NAME: z
    .string()
    .regex(/^[\w.-]{1,64}$/)
    .default('sessions'),
  REDIS_SENTINEL_USERNAME: z.string().min(1).default('sentinel-app'),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(10).optional(),
  REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().positive().max(10_000).default(100),
  SESSION_SECRET: z
    .string()
    .refine((value) => value.split(',').every((secret) => secret.trim() !== ''), 'no empty secret in the list')
    .optional(),
  SESSION_IDLE_TIMEOUT_S: seconds(30 * 60),
  SESSION_ABSOLUTE_TIMEOUT_S: seconds(8 * 60 * 60),
  MAX_SESSIONS_PER_USER: z.coerce.number().int().min(1).max(100).default(10),
  TRUST_PROXY: z.coerce.number().int().min(0).max(10).default(0),
  DEMO_USERS: demoUsers.optional(),
  ALLOW_DEMO_USERS: flag,
  LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().positive().default(5),
  LOGIN_MAX_FAILURES_PER_CLIENT: z.coerce.number().int().positive().default(100),
  LOGIN_THROTTLE_WINDOW_S: seconds(15 * 60),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).default(0),
  // Prometheus's registered default port for Node.js client metrics; never proxied by nginx. 0: any free port.
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
});

/** Production has no defaults for secrets and no demo users unless asked for. */
function productionProblems(env: Env): string[] {
  const problems: string[] = [];
  if (!env.REDIS_URL) problems.push('REDIS_URL: required in production');
  if (!env.SESSION_SECRET) problems.push('SESSION_SECRET: required in production (or SESSION_SECRET_FILE)');
  else if (env.SESSION_SECRET.includes(DEV_SESSION_SECRET))
    problems.push('SESSION_SECRET: the development secret is refused in production');
  else if (env.SESSION_SECRET.split(',').some((secret) => secret.trim().length < 32)) {
    problems.push('SESSION_SECRET: every secret must be at least 32 characters in production');
  }
  if (env.REDIS_SENTINELS && !env.REDIS_SENTINEL_PASSWORD)
    problems.push('REDIS_SENTINEL_PASSWORD: required with REDIS_SENTINELS in production (or REDIS_SENTINEL_PASSWORD_FILE)');
  if (env.DEMO_USERS && env.ALLOW_DEMO_USERS !== 'true')
    problems.push('DEMO_USERS: refused in production unless ALLOW_DEMO_USERS=true');
  return problems;
}

/** Every variable the app reads (the catalogue's: catalog/config.ts) and its default, for the check of their docs. */
export const VARIABLES = variablesOf(schema);

export type Config = ReturnType<typeof loadConfig>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.problems = problems;
  }
}

export function loadConfig(env: Env = process.env, readFile = (path: string) => readFileSync(path, 'utf8')) {
  const problems: string[] = [];
  const resolved = resolveFileVariables(env, ['SESSION_SECRET', 'REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD'], readFile, problems);
  const parsed = schema.safeParse(resolved);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.') || 'environment'}: ${issue.message}`);
  }
  // Decided even when other variables are wrong, so that every problem is reported at once.
  const production = isProduction(resolved);
  if (production) problems.push(...productionProblems(resolved));
  if (resolved.REDIS_SENTINELS && resolved.REDIS_CLUSTER_NODES)
    problems.push('REDIS_CLUSTER_NODES: set either REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both');
  let tlsCa: string | undefined;
  const caFile = resolved.REDIS_TLS_CA_FILE;
  if (caFile) {
    try {
      tlsCa = readFile(caFile);
    } catch {
      problems.push(`REDIS_TLS_CA_FILE: cannot read ${caFile}`);
    }
  }
  // The product catalogue (PostgreSQL and its cache Redis) is on when DATABASE_URL says where the database is.
  const catalog = resolved.DATABASE_URL ? parseCatalogConfig(env, readFile, problems) : undefined;
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const values = parsed.data;

  const developmentDefaults: string[] = [];
  const devDefault = <T>(name: string, value: T | undefined, fallback: T): T => {
    if (value !== undefined) return value;
    developmentDefaults.push(name);
    return fallback;
  };

  const redisUrl = new URL(devDefault('REDIS_URL', values.REDIS_URL, DEV_REDIS_URL));
  if (values.REDIS_PASSWORD) redisUrl.password = encodeURIComponent(values.REDIS_PASSWORD);
  const sentinels = values.REDIS_SENTINELS;
  const users = production ? values.DEMO_USERS : devDefault('DEMO_USERS', values.DEMO_USERS, demoUsers.parse(DEV_DEMO_USERS));

  return Object.freeze({
    env: values.NODE_ENV,
    host: values.HOST,
    port: values.PORT,
    instanceId: values.INSTANCE_ID,
    redis: {
      url: redisUrl.href,
      commandTimeoutMs: values.REDIS_COMMAND_TIMEOUT_MS,
      /** REDIS_TLS_CA_FILE, read again on SIGHUP (redis-trust.ts), and what it held at start. */
      tlsCaFile: caFile,
      tlsCa,
      /** With Sentinels, REDIS_URL's host and port are replaced by the primary they name; its scheme and user stay. */
      sentinel: sentinels && {
        nodes: sentinels,
        name: values.REDIS_SENTINEL_NAME,
        username: values.REDIS_SENTINEL_USERNAME,
        password: values.REDIS_SENTINEL_PASSWORD,
      },
      /** With cluster seed nodes, REDIS_URL's host and port are ignored; its scheme and user apply to every node. */
      cluster: values.REDIS_CLUSTER_NODES && { nodes: values.REDIS_CLUSTER_NODES },
      /**
       * After a login's write, wait this long for this many replicas (0: don't wait; a lone Redis has none). An end of a
       * session (logout, revocation, the device cap) waits the same and is refused with a 503 unless they confirm.
       * One by default with Sentinels and on a cluster (one replica per primary: infra/redis, `--cluster-replicas 1`).
       */
      waitForReplicas: {
        replicas: values.REDIS_WAIT_REPLICAS ?? (sentinels || values.REDIS_CLUSTER_NODES ? 1 : 0),
        timeoutMs: values.REDIS_WAIT_TIMEOUT_MS,
      },
    },
    session: {
      secrets: devDefault('SESSION_SECRET', values.SESSION_SECRET, DEV_SESSION_SECRET)
        .split(',')
        .map((secret) => secret.trim()),
      idleTimeoutS: values.SESSION_IDLE_TIMEOUT_S,
      absoluteTimeoutS: values.SESSION_ABSOLUTE_TIMEOUT_S,
      /** A login beyond it ends the user's oldest session. */
      maxPerUser: values.MAX_SESSIONS_PER_USER,
    },
    trustProxy: values.TRUST_PROXY,
    demoUsers: users ?? [],
    throttle: {
      maxFailuresPerAccount: values.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      maxFailuresPerClient: values.LOGIN_MAX_FAILURES_PER_CLIENT,
      windowS: values.LOGIN_THROTTLE_WINDOW_S,
    },
    logLevel: values.LOG_LEVEL,
    shutdownTimeoutMs: values.SHUTDOWN_TIMEOUT_MS,
    shutdownDelayMs: values.SHUTDOWN_DELAY_MS,
    metricsPort: values.METRICS_PORT,
    catalog,
    /** Names of the variables that fell back to development defaults; printed at start. */
    developmentDefaults,
  });
}
