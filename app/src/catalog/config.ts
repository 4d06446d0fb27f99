import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { type Env, isProduction, nodeEnv, resolveFileVariables, variablesOf } from '../env.ts';
import { CACHE_PREFIX } from '../keys.ts';

// The catalogue's variables, read by app/src/config.ts (the only reader of the environment) when DATABASE_URL is set.
// Same rules: every problem at once, *_FILE secrets, no production defaults for addresses or passwords.

const DEV_DATABASE_URL = 'postgres://catalog_app@127.0.0.1:5432/catalog';
const DEV_CACHE_REDIS_URL = 'redis://127.0.0.1:6379';

const schema = z.object({
  NODE_ENV: nodeEnv,
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'expected a postgres:// or postgresql:// URL' }).optional(),
  DATABASE_PASSWORD: z.string().min(1).optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10),
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(1000),
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(2000),
  CACHE_ENGINE: z.enum(['redis', 'memcached']).default('redis'),
  CACHE_REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' }).optional(),
  // host:port,host:port,... (each key lives on one node: consistent hashing).
  CACHE_MEMCACHED_SERVERS: z
    .string()
    .regex(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, 'expected host:port[,host:port...]')
    .optional(),
  CACHE_MEMCACHED_USERNAME: z.string().regex(/^\S+$/).default('cache'),
  CACHE_MEMCACHED_PASSWORD: z.string().regex(/^\S+$/, 'no spaces (memcached -Y reads "user password")').optional(),
  // Set: TLS to every memcached node (memcached -Z), verified against this CA.
  CACHE_MEMCACHED_TLS_CA_FILE: z.string().min(1).optional(),
  CACHE_REDIS_PASSWORD: z.string().min(1).optional(),
  CACHE_TIMEOUT_MS: z.coerce.number().int().positive().default(100),
  CACHE_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((value) => value === 'true'),
  CACHE_TTL_S: z.coerce.number().int().positive().default(300),
  CACHE_NOT_FOUND_TTL_S: z.coerce.number().int().positive().default(10),
  CACHE_GRACE_S: z.coerce.number().int().min(0).default(3600),
});

/** Every variable the catalogue reads and its default, for the check of their docs. */
export const CATALOG_VARIABLES = variablesOf(schema);

export type CatalogConfig = NonNullable<ReturnType<typeof parseCatalogConfig>>;

/** Throws every problem at once (for callers without config.ts's list: tests). */
export function loadCatalogConfig(env: Env, readFile = (path: string) => readFileSync(path, 'utf8')): CatalogConfig {
  const problems: string[] = [];
  const config = parseCatalogConfig(env, readFile, problems);
  if (!config) throw new Error(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return config;
}

/** The catalogue's settings, or undefined with its problems added to `reported` (config.ts's list). */
export function parseCatalogConfig(env: Env, readFile: (path: string) => string, reported: string[]) {
  const problems: string[] = [];
  const resolved = resolveFileVariables(
    env,
    ['DATABASE_PASSWORD', 'CACHE_REDIS_PASSWORD', 'CACHE_MEMCACHED_PASSWORD'],
    readFile,
    problems,
  );
  const parsed = schema.safeParse(resolved);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.') || 'environment'}: ${issue.message}`);
  }
  const production = isProduction(resolved);
  if (production && !resolved.DATABASE_URL) problems.push('DATABASE_URL: required in production');
  const memcached = resolved.CACHE_ENGINE === 'memcached';
  if (production && !memcached && !resolved.CACHE_REDIS_URL) problems.push('CACHE_REDIS_URL: required in production');
  if (memcached && !resolved.CACHE_MEMCACHED_SERVERS)
    problems.push('CACHE_MEMCACHED_SERVERS: required with CACHE_ENGINE=memcached');
  if (production && memcached && !resolved.CACHE_MEMCACHED_PASSWORD)
    problems.push('CACHE_MEMCACHED_PASSWORD: required in production (memcached -Y)');
  if (production && memcached && !resolved.CACHE_MEMCACHED_TLS_CA_FILE)
    problems.push('CACHE_MEMCACHED_TLS_CA_FILE: required in production (memcached -Z)');
  let memcachedCa: string | undefined;
  if (resolved.CACHE_MEMCACHED_TLS_CA_FILE) {
    try {
      memcachedCa = readFile(resolved.CACHE_MEMCACHED_TLS_CA_FILE);
    } catch {
      problems.push(`CACHE_MEMCACHED_TLS_CA_FILE: cannot read ${resolved.CACHE_MEMCACHED_TLS_CA_FILE}`);
    }
  }
  if (problems.length > 0 || !parsed.success) {
    reported.push(...problems);
    return undefined;
  }
  const values = parsed.data;

  // In the URL, as for Redis: pg lets a connection string's (absent) password override a separate one.
  const dbUrl = new URL(values.DATABASE_URL ?? DEV_DATABASE_URL);
  if (values.DATABASE_PASSWORD) dbUrl.password = encodeURIComponent(values.DATABASE_PASSWORD);
  const cacheUrl = new URL(values.CACHE_REDIS_URL ?? DEV_CACHE_REDIS_URL);
  if (values.CACHE_REDIS_PASSWORD) cacheUrl.password = encodeURIComponent(values.CACHE_REDIS_PASSWORD);
  return Object.freeze({
    db: {
      url: dbUrl.href,
      poolMax: values.DATABASE_POOL_MAX,
      connectTimeoutMs: values.DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: values.DATABASE_STATEMENT_TIMEOUT_MS,
    },
    cache: {
      engine: values.CACHE_ENGINE,
      url: cacheUrl.href,
      memcached: {
        servers: values.CACHE_MEMCACHED_SERVERS?.split(',') ?? [],
        tlsCa: memcachedCa,
        auth: values.CACHE_MEMCACHED_PASSWORD
          ? { username: values.CACHE_MEMCACHED_USERNAME, password: values.CACHE_MEMCACHED_PASSWORD }
          : undefined,
      },
      // Keys the cache user's ACL allows (~cache:*); the session Redis's prefixes never appear here.
      prefix: CACHE_PREFIX,
      timeoutMs: values.CACHE_TIMEOUT_MS,
      enabled: values.CACHE_ENABLED,
      ttlS: values.CACHE_TTL_S,
      jitter: 0.1,
      notFoundTtlS: values.CACHE_NOT_FOUND_TTL_S,
      graceS: values.CACHE_GRACE_S,
      bypassMs: 1000,
    },
  });
}
