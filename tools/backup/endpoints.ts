import { existsSync, readFileSync } from 'node:fs';
import { BackupError } from './age.ts';
import { join } from 'node:path';
import { runPaths } from '../lib/paths.ts';
import { trustRedisCa } from '../lib/redis.ts';
import { SIGNING_KEY } from './signature.ts';

const secret = (file: string) => readFileSync(file, 'utf8').trim();

export type HostPort = { host: string; port: number };
export const hostPort = ({ host, port }: HostPort) => `${host}:${port}`;

/**
 * Where a stack's data lives and the credentials each step needs, least privilege first: the backup reads Redis as
 * `replica` (SYNC from a replica) and asks the Sentinels as `sentinel-app` which node is primary; the restore writes
 * as `admin`. PostgreSQL is dumped and restored as the catalogue's owner.
 */
export type Endpoints = {
  redis: {
    /** The data nodes; with Sentinels, any of them may be primary now. */
    nodes: HostPort[];
    sentinels: HostPort[];
    /** A Redis Cluster: `nodes` are its nodes, any of them primary or replica of a shard. */
    cluster?: boolean;
    /** The CA of the nodes' TLS certificates; absent: plaintext (a Redis reachable only inside a private network). */
    caFile?: string;
    replicaPasswordFile: string;
    sentinelAppPasswordFile: string;
    adminPasswordFile: string;
    /**
     * The ACL, or where it comes from: the rendered file (local stack), or render-acl.sh where the rendered ACL
     * lives in the nodes' memory only (compose). Saved (encrypted) in a snapshot, never applied by a restore.
     */
    aclFile: string;
    /**
     * The catalogue's cache, emptied after a restore so no product is served from before it: the cache Redis (as
     * `admin`), or the memcached nodes (as the `cache` user, whose password is in `passwordFile`).
     */
    cache?: { engine: 'redis'; node: HostPort } | { engine: 'memcached'; nodes: HostPort[]; passwordFile: string };
  };
  /** The catalogue; absent in a sessions-only deployment (the app runs without DATABASE_URL). */
  postgres?: { host: string; port: number; user: string; passwordFile: string; database: string };
  /** The private key for a restore (backup_age_key) lives here, and the public key (backup_age_recipient) unless `recipients`. */
  secretsDir: string;
  /** The public keys to encrypt to (age1…), when they are not in `<secretsDir>/backup_age_recipient`: a public key is no secret. */
  recipients?: string[];
  /** Where snapshots are written. */
  backupsDir: string;
  /** The private key that signs each manifest (signature.ts): only where backups are taken. */
  signingKeyFile: string;
};

/** The local stack's (`npm start`): its run dir's secrets, and the ports it was started with (same offsets). */
export function localStackEndpoints({
  runDir,
  redisPort,
  mode,
  backupsDir,
  cache = 'redis',
}: {
  runDir?: string;
  redisPort: number;
  mode: 'sentinel' | 'single' | 'cluster';
  backupsDir?: string;
  /** The catalogue's cache engine the stack was started with (`npm start -- --cache`). */
  cache?: 'redis' | 'memcached';
}): Endpoints {
  const paths = runPaths(runDir);
  if (!existsSync(join(paths.secrets, 'redis_ca.crt')))
    throw new BackupError(`no stack's secrets in ${paths.secrets}: start it with npm start (--run-dir as given here)`);
  const file = (name: string) => join(paths.secrets, name);
  const local = (port: number) => ({ host: '127.0.0.1', port });
  trustRedisCa(file('redis_ca.crt'));
  return {
    redis: {
      // As npm start places them: a cluster's six nodes from the port, or the Sentinel group's nodes +0..2 and
      // Sentinels +10..12.
      nodes: (mode === 'cluster' ? [0, 1, 2, 3, 4, 5] : mode === 'single' ? [0] : [0, 1, 2]).map((i) => local(redisPort + i)),
      sentinels: (mode === 'sentinel' ? [10, 11, 12] : []).map((i) => local(redisPort + i)),
      cluster: mode === 'cluster',
      caFile: file('redis_ca.crt'),
      replicaPasswordFile: file('redis_replica_password'),
      sentinelAppPasswordFile: file('redis_sentinel_app_password'),
      adminPasswordFile: file('redis_admin_password'),
      aclFile: join(paths.redis, 'users.acl'),
      // The cache's ports follow the session Redis's as in the stack: the cache Redis +20, memcached-1..3 +21..23.
      cache:
        cache === 'redis'
          ? { engine: 'redis', node: local(redisPort + 20) }
          : {
              engine: 'memcached',
              nodes: [21, 22, 23].map((i) => local(redisPort + i)),
              passwordFile: file('redis_cache_password'),
            },
    },
    postgres: {
      host: '127.0.0.1',
      port: redisPort + 30,
      user: 'postgres',
      passwordFile: file('postgres_password'),
      database: 'catalog',
    },
    secretsDir: paths.secrets,
    backupsDir: backupsDir ?? join(paths.runDir, 'backups'),
    signingKeyFile: file(SIGNING_KEY),
  };
}

export const readSecret = secret;

/** `host:port,host:port` as compose and Kubernetes spell a list of servers. */
const hostPorts = (list: string, what: string): HostPort[] =>
  list
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const match = /^([\w.-]+):(\d+)$/.exec(item);
      if (!match) throw new Error(`${what}: expected host:port, got "${item}"`);
      return { host: match[1]!, port: Number(match[2]) };
    });

/**
 * A deployment's, from the environment (the compose service and the Kubernetes CronJob): every problem is
 * reported at once. Passwords come as files (secrets), never as values.
 */
export function endpointsFromEnv(env: NodeJS.ProcessEnv = process.env): Endpoints {
  const problems: string[] = [];
  const need = (name: string) => {
    const value = env[name];
    if (!value) problems.push(`${name} is required`);
    return value ?? '';
  };
  const list = (name: string, optional = false) => {
    try {
      return optional && !env[name] ? [] : hostPorts(need(name), name);
    } catch (err) {
      problems.push((err as Error).message);
      return [];
    }
  };
  const endpoints: Endpoints = {
    redis: {
      nodes: list('BACKUP_REDIS_NODES'),
      sentinels: list('BACKUP_REDIS_SENTINELS', true),
      caFile: env.BACKUP_REDIS_CA_FILE || undefined,
      replicaPasswordFile: need('BACKUP_REDIS_REPLICA_PASSWORD_FILE'),
      sentinelAppPasswordFile: env.BACKUP_REDIS_SENTINEL_PASSWORD_FILE ?? '',
      adminPasswordFile: env.BACKUP_REDIS_ADMIN_PASSWORD_FILE ?? '',
      aclFile: need('BACKUP_ACL_FILE'),
    },
    ...(env.BACKUP_POSTGRES_HOST
      ? {
          postgres: {
            host: env.BACKUP_POSTGRES_HOST,
            port: Number(env.BACKUP_POSTGRES_PORT ?? 5432),
            user: env.BACKUP_POSTGRES_USER ?? 'postgres',
            passwordFile: need('BACKUP_POSTGRES_PASSWORD_FILE'),
            database: env.BACKUP_POSTGRES_DATABASE ?? 'catalog',
          },
        }
      : {}),
    secretsDir: '',
    recipients: (env.BACKUP_AGE_RECIPIENTS ?? '').split(/[\s,]+/).filter(Boolean),
    backupsDir: need('BACKUP_DIR'),
    signingKeyFile: need('BACKUP_SIGNING_KEY_FILE'),
  };
  if (endpoints.redis.sentinels.length > 0 && !endpoints.redis.sentinelAppPasswordFile)
    problems.push('BACKUP_REDIS_SENTINEL_PASSWORD_FILE is required with BACKUP_REDIS_SENTINELS');
  if (endpoints.recipients!.length === 0)
    problems.push('BACKUP_AGE_RECIPIENTS is required: the public key(s) to encrypt to (age1…)');
  if (problems.length > 0) throw new Error(`the backup's settings:\n  ${problems.join('\n  ')}`);
  if (endpoints.redis.caFile) trustRedisCa(endpoints.redis.caFile);
  return endpoints;
}
