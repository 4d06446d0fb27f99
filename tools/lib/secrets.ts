import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { shippedFiles } from './paths.ts';

/**
 * Creates the secrets (passwords, the Redis CA and certificate) once in `dir` with the same script compose uses (mode 600 here: the stack's
 * processes run as the owner) and returns their paths and values. The Redis passwords are read from their files each
 * time they are asked for: a rotation (npm run rotate-secrets) replaces the files under a running stack.
 */
export function ensureSecrets(dir: string) {
  execFileSync('sh', [shippedFiles.makeSecrets, dir], { env: { ...process.env, SECRETS_FILE_MODE: '600' }, stdio: 'pipe' });
  const file = (name: string) => join(dir, name);
  const read = (name: string) => readFileSync(file(name), 'utf8').trim();
  return {
    dir,
    sessionSecretFile: file('session_secret'),
    redisAppPasswordFile: file('redis_app_password'),
    redisAdminPasswordFile: file('redis_admin_password'),
    get redisAppPassword() {
      return read('redis_app_password');
    },
    get redisAdminPassword() {
      return read('redis_admin_password');
    },
    redisSentinelAppPasswordFile: file('redis_sentinel_app_password'),
    get redisSentinelAppPassword() {
      return read('redis_sentinel_app_password');
    },
    redisCaFile: file('redis_ca.crt'),
    redisCachePasswordFile: file('redis_cache_password'),
    get redisExporterPassword() {
      return read('redis_exporter_password');
    },
    postgresPassword: read('postgres_password'),
    databaseAppPasswordFile: file('database_app_password'),
    databaseAppPassword: read('database_app_password'),
  };
}

export type Secrets = ReturnType<typeof ensureSecrets>;
