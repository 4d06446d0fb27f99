import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPaths } from '../lib/paths.ts';
import { trustRedisCa } from '../lib/redis.ts';

const secret = (file: string) => readFileSync(file, 'utf8').trim();

/**
 * Where a stack's data lives and the credentials each step needs, least privilege first: the backup reads Redis as
 * `replica` (SYNC from a replica) and asks the Sentinels as `sentinel-app` which node is primary; the restore writes
 * as `admin`. PostgreSQL is dumped and restored as the catalogue's owner.
 */
export type Endpoints = {
  redis: {
    host: string;
    /** The data nodes; with Sentinels, any of them may be primary now. */
    nodePorts: number[];
    sentinelPorts: number[];
    caFile: string;
    replicaPasswordFile: string;
    sentinelAppPasswordFile: string;
    adminPasswordFile: string;
    /** The rendered ACL: saved (encrypted) in a snapshot, never applied by a restore. */
    aclFile: string;
    /** The cache Redis: emptied after a restore, so no product is served from before it. */
    cachePort?: number;
  };
  postgres: { host: string; port: number; user: string; passwordFile: string; database: string };
  /** backup_age_recipient (and, for a restore, backup_age_key) live here. */
  secretsDir: string;
  /** Where snapshots are written. */
  backupsDir: string;
};

/** The local stack's (`npm start`): its run dir's secrets, and the ports it was started with (same offsets). */
export function localStackEndpoints({
  runDir,
  redisPort,
  mode,
  backupsDir,
}: {
  runDir?: string;
  redisPort: number;
  mode: 'sentinel' | 'single';
  backupsDir?: string;
}): Endpoints {
  const paths = runPaths(runDir);
  const file = (name: string) => join(paths.secrets, name);
  trustRedisCa(file('redis_ca.crt'));
  return {
    redis: {
      host: '127.0.0.1',
      nodePorts: mode === 'single' ? [redisPort] : [0, 1, 2].map((i) => redisPort + i),
      sentinelPorts: mode === 'single' ? [] : [10, 11, 12].map((i) => redisPort + i),
      caFile: file('redis_ca.crt'),
      replicaPasswordFile: file('redis_replica_password'),
      sentinelAppPasswordFile: file('redis_sentinel_app_password'),
      adminPasswordFile: file('redis_admin_password'),
      aclFile: join(paths.redis, 'users.acl'),
      cachePort: redisPort + 20,
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
  };
}

export const readSecret = secret;
