import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../app/src/config.ts';
import { repoRoot } from '../lib/paths.ts';
import { findTools } from '../lib/prereqs.ts';
import { renderAcl } from '../lib/redis-server.ts';
import { type Control, restartInstances, RotationError, type Status } from './stack-control.ts';

/** The Redis users' password files (make-secrets.sh) a rotation replaces; redis_cache_password only with a cache Redis. */
const SESSION_REDIS_PASSWORDS = [
  'redis_app_password',
  'redis_replica_password',
  'redis_sentinel_password',
  'redis_exporter_password',
  'redis_admin_password',
  'redis_sentinel_app_password',
  'redis_sentinel_peer_password',
];
const CACHE_PASSWORD = 'redis_cache_password';
const SESSION_SECRET = 'session_secret';
/** When the newest session secret was added (ms since the epoch): `--drop-old` waits a session's lifetime from it. */
const ROTATED_AT = 'session_secret.rotated-at';
/** The new session secret while a rotation is under way (so an interrupted one is finished with the same). */
const NEXT_SECRET = 'session_secret.next';

/** The app's own default for SESSION_ABSOLUTE_TIMEOUT_S: no session lives longer, whatever its cookie. */
export const DEFAULT_SESSION_LIFETIME_S = loadConfig({ NODE_ENV: 'development' }).session.absoluteTimeoutS;

const newSecret = () => randomBytes(32).toString('hex');

/** Replaces `file` whole or not at all, readable by the owner only (as make-secrets.sh writes them for the stack). */
function writeSecret(file: string, value: string) {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, value, { mode: 0o600 });
  renameSync(tmp, file);
}

async function runScript(step: 'add' | 'remove', secretsDir: string, status: Status) {
  const sentinel = status.redis.sentinels[0];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    REDIS_CA_FILE: join(secretsDir, 'redis_ca.crt'),
    ...(status.cache ? { CACHE_NODES: `127.0.0.1:${status.cache.port}` } : {}),
    ...(sentinel ? {} : { REDIS_NODES: status.redis.nodes.map((node) => `127.0.0.1:${node.port}`).join(' ') }),
  };
  const script = join(repoRoot, 'infra/redis/rotate-passwords.sh');
  const { stdout } = await promisify(execFile)('sh', [script, step, secretsDir, '127.0.0.1', String(sentinel?.port ?? 0)], {
    env,
    timeout: 60_000,
  }).catch((err: Error & { stderr?: string }) => {
    throw new RotationError(
      `rotate-passwords.sh ${step}: ${err.stderr?.trim() || err.message} (run npm run rotate-secrets again: each step is idempotent)`,
    );
  });
  return stdout.trim();
}

/**
 * A rotation of every Redis password and of the session secret on a running local stack, none refused meanwhile:
 * new values beside the old (`<file>.previous`), both in every node's ACL and in the ACL files they load at a restart;
 * the apps restarted one at a time (and the exporters) onto the new values, twice for the session secret: first with
 * the new secret last (every instance verifies it, none signs with it yet), then first (every instance signs with it),
 * so no instance ever meets a cookie or a form token signed under a secret it does not know; then the old passwords
 * removed everywhere and checked refused. An interrupted run is finished by the next one (the `.previous` and `.next`
 * files say a rotation is under way; no new values are made then).
 */
export async function rotateSecrets({ control, log }: { control: Control; log: (line: string) => void }) {
  const status = await control<Status>('/status');
  const secretsDir = join(status.runDir, 'secrets');
  const file = (name: string) => join(secretsDir, name);
  const names = status.cache ? [...SESSION_REDIS_PASSWORDS, CACHE_PASSWORD] : SESSION_REDIS_PASSWORDS;
  if (status.cacheNodes?.length)
    log('memcached caches: its password (redis_cache_password) is not rotated (memcached reads its auth file at start only)');

  const read = (name: string) => readFileSync(file(name), 'utf8').trim();
  const resuming = existsSync(file(NEXT_SECRET)) || names.some((name) => existsSync(file(`${name}.previous`)));
  if (resuming) log('a rotation is under way (.previous and .next files): finishing it');
  else writeSecret(file(NEXT_SECRET), newSecret());
  const next = existsSync(file(NEXT_SECRET)) ? read(NEXT_SECRET) : undefined;
  const others = read(SESSION_SECRET)
    .split(',')
    .filter((secret) => secret !== next);
  // Each step can be cut short and redone: the old value is kept first, then a new one made where none is yet.
  for (const name of names) if (!existsSync(file(`${name}.previous`))) copyFileSync(file(name), file(`${name}.previous`));
  const made = names.filter((name) => read(name) === read(`${name}.previous`));
  for (const name of made) writeSecret(file(name), newSecret());
  if (made.length) log(`new Redis passwords in ${secretsDir}: ${made.join(', ')}`);

  // What a node loads if it restarts from here on: both passwords while the .previous files exist.
  renderAclFiles(status);
  log(await runScript('add', secretsDir, status));
  if (next) {
    writeSecret(file(SESSION_SECRET), [...others, next].join(','));
    log(`a new session secret, last of ${others.length + 1} in ${file(SESSION_SECRET)}: verified by every instance first`);
    await restartInstances(control, status, log);
    writeSecret(file(SESSION_SECRET), [next, ...others].join(','));
    writeSecret(file(ROTATED_AT), String(Date.now()));
    log('the new session secret first: every instance signs with it');
  }
  await restartInstances(control, status, log);
  rmSync(file(NEXT_SECRET), { force: true });
  if (status.redisExporters?.length) {
    await control('/redis/restart-exporters', 'POST');
    log(`${status.redisExporters.length} redis exporters restarted`);
  }
  log(await runScript('remove', secretsDir, status));
  for (const name of names) rmSync(file(`${name}.previous`), { force: true });
  renderAclFiles(status);
  const kept = readFileSync(file(SESSION_SECRET), 'utf8').trim().split(',').length;
  log(
    `done; the session secret list has ${kept}: the older ones verify cookies until npm run rotate-secrets -- --drop-old, ` +
      'a session lifetime (SESSION_ABSOLUTE_TIMEOUT_S) from now',
  );
}

function renderAclFiles(status: Status) {
  const { redisServer } = findTools();
  const secretsDir = join(status.runDir, 'secrets');
  renderAcl(
    secretsDir,
    join(status.runDir, 'redis', 'users.acl'),
    redisServer,
    status.redis.mode === 'cluster' ? 'cluster' : 'sessions',
  );
  if (status.cache) renderAcl(secretsDir, join(status.runDir, 'redis', 'cache.acl'), redisServer, 'cache');
}

/**
 * Keeps only the newest session secret, once no session can be younger than it: a session lives at most
 * `lifetimeS` (SESSION_ABSOLUTE_TIMEOUT_S) and its cookie was re-signed under the newest secret if its user came
 * back meanwhile (app/src/session.ts). Refused earlier, saying when. Then the apps restart one at a time.
 */
export async function dropOldSessionSecrets({
  control,
  log,
  lifetimeS,
  now = Date.now(),
}: {
  control: Control;
  log: (line: string) => void;
  lifetimeS: number;
  now?: number;
}) {
  const status = await control<Status>('/status');
  const secretsDir = join(status.runDir, 'secrets');
  const secrets = readFileSync(join(secretsDir, SESSION_SECRET), 'utf8').trim().split(',');
  if (secrets.length === 1) return log('one session secret only: nothing to drop');
  const marker = join(secretsDir, ROTATED_AT);
  const rotatedAt = existsSync(marker)
    ? Number(readFileSync(marker, 'utf8'))
    : statSync(join(secretsDir, SESSION_SECRET)).mtimeMs;
  const allowedAt = rotatedAt + lifetimeS * 1000;
  if (now < allowedAt)
    throw new RotationError(
      `the newest session secret was added at ${new Date(rotatedAt).toISOString()}: a session signed under an older one ` +
        `may live until ${new Date(allowedAt).toISOString()} (--session-lifetime-s ${lifetimeS}); run --drop-old again then`,
    );
  writeSecret(join(secretsDir, SESSION_SECRET), secrets[0]!);
  rmSync(marker, { force: true });
  log(`dropped ${secrets.length - 1} older session secret(s)`);
  await restartInstances(control, status, log);
  log('done: a cookie signed only under a dropped secret is anonymous now');
}
