import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { shippedFiles } from '../lib/paths.ts';
import { poll } from '../lib/poll.ts';
import { redisUrl, trustRedisCa, withRedis } from '../lib/redis.ts';
import { type Control, reloadInstances, RotationError, type Status } from './stack-control.ts';

type Log = (line: string) => void;

/** The app retries a Sentinel at most every ~1.1 s (app/src/redis-sentinel.ts, reconnectStrategy). */
const RECONNECT_TIMEOUT_MS = 10_000;

/** The run dir's TLS files (infra/redis/make-tls.sh): what every party trusts, and the CA being rolled out. */
const CA = 'redis_ca.crt';
const CA_KEY = 'redis_ca.key';
const NEW_CA = 'redis_ca.new.crt';
const NEW_CA_KEY = 'redis_ca.new.key';
/** The old CA alone, from the first step of a --new-ca rotation to its end: says a rotation is under way. */
const OLD_CA = 'redis_ca.crt.previous';

async function sh(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const { stdout } = await promisify(execFile)('sh', [script, ...args], {
    env: { PATH: process.env.PATH, ...env },
    timeout: 60_000,
  }).catch((err: Error & { stderr?: string }) => {
    throw new RotationError(
      `${script.split('/').at(-1)} ${args[0]}: ${err.stderr?.trim() || err.message} (run npm run rotate-certs again with ` +
        'the same options: each step can be redone)',
    );
  });
  return stdout.trim();
}

/**
 * New TLS files for the session Redis (every data node and Sentinel) and the cache Redis of a running local stack,
 * no request refused. Renewal (the default): a new server key and certificate from the same CA, reloaded by every
 * data node and the cache (CONFIG SET, no restart), the Sentinels restarted one at a time (they cannot reload); the
 * app trusts the CA, so it is not touched. `newCa`: a new CA in three steps, every party trusting old and new between
 * them: (1) the bundle old+new in redis_ca.crt, read again by the app instances (SIGHUP, no restart) and the nodes,
 * the Sentinels and the exporters restarted; (2) a server certificate from the new CA, served as in a renewal; (3)
 * redis_ca.crt the new CA alone, the same reloads and restarts, then every server checked refused by a client
 * trusting only the old CA. A run cut short is finished by the next (redis_ca.crt.previous says one is under way).
 */
export async function rotateCertificates({ control, log, newCa }: { control: Control; log: Log; newCa: boolean }) {
  const status = await control<Status>('/status');
  const secretsDir = join(status.runDir, 'secrets');
  const file = (name: string) => join(secretsDir, name);
  trustRedisCa(file(CA));
  const underWay = existsSync(file(OLD_CA));
  if (underWay && !newCa)
    throw new RotationError('a new CA is being rolled out: finish it with npm run rotate-certs -- --new-ca');
  if (newCa && status.cacheNodes?.length)
    throw new RotationError('memcached caches load their certificate at start only: a new CA is not rolled out to them here');
  if (status.cacheNodes?.length)
    log('memcached caches keep the certificate they started with (still valid: same CA) until they restart');

  const script = (step: 'reload' | 'check', env: NodeJS.ProcessEnv = {}) => {
    const sentinel = status.redis.sentinels[0];
    return sh(shippedFiles.rotateCertificates, [step, secretsDir, '127.0.0.1', String(sentinel?.port ?? 0)], {
      ...(status.cache ? { CACHE_NODES: `127.0.0.1:${status.cache.port}` } : {}),
      ...(sentinel ? {} : { REDIS_NODES: status.redis.nodes.map((node) => `127.0.0.1:${node.port}`).join(' ') }),
      ...env,
    });
  };
  /** The servers onto the files as they are now: the data nodes and the cache reload them, the Sentinels restart. */
  async function serveFiles() {
    log(await script('reload'));
    if (!status.redis.sentinels.length) return;
    const { ms } = await control<{ ms: number }>('/redis/restart-sentinels', 'POST');
    log(`${status.redis.sentinels.length} Sentinels restarted one at a time, each back in the group: ${ms} ms`);
    await appsReconnected();
  }
  /**
   * Every app instance connected to every restarted Sentinel again: new TLS connections under the files now, which an
   * instance whose open connections predate them would otherwise never be seen making (its data connection lives on).
   * Its Sentinel links carry its id as the client name (app/src/redis-sentinel.ts).
   */
  async function appsReconnected() {
    const started = performance.now();
    const admin = readFileSync(file('redis_admin_password'), 'utf8').trim();
    for (const sentinel of status.redis.sentinels) {
      const missing = async () => {
        const list = await withRedis(redisUrl('admin', admin, sentinel.port, { tls: true }), (client) =>
          client.sendCommand<string>(['CLIENT', 'LIST']),
        );
        const names = new Set([...list.matchAll(/ name=(\S+)/g)].map((match) => match[1]));
        return status.instances.filter(({ id }) => !names.has(id)).map(({ id }) => id);
      };
      const done = await poll(async () => (await missing()).length === 0, { timeoutMs: RECONNECT_TIMEOUT_MS, intervalMs: 100 });
      if (!done)
        throw new RotationError(
          `${(await missing().catch(() => ['?'])).join(', ')} not connected to the Sentinel on ${sentinel.port} again ` +
            `within ${RECONNECT_TIMEOUT_MS} ms: does it trust the CA of the certificates served now (its log says "sentinel error")?`,
        );
    }
    log(`every app instance connected to every Sentinel again after ${Math.round(performance.now() - started)} ms`);
  }
  /** The clients of redis_ca.crt onto what it holds now: the app instances read it again, the exporters restart. */
  async function moveClients() {
    await reloadInstances(control, status, log);
    if (!status.redisExporters?.length) return;
    await control('/redis/restart-exporters', 'POST');
    log(`${status.redisExporters.length} redis exporters restarted`);
  }
  const renew = async () => log(await sh(shippedFiles.makeTls, ['--server', secretsDir]));

  if (!newCa) {
    await renew();
    await serveFiles();
    log(await script('check'));
    return;
  }

  if (underWay) log(`a new CA is being rolled out (${file(OLD_CA)}): finishing it`);
  else {
    // Leftovers of a rotation that ended before its cleanup: its new CA is redis_ca.crt already.
    for (const name of [NEW_CA, NEW_CA_KEY]) rmSync(file(name), { force: true });
    copyFileSync(file(CA), file(OLD_CA));
  }
  log(await sh(shippedFiles.makeTls, ['--ca', secretsDir]));
  const pem = (name: string) => readFileSync(file(name), 'utf8').trim();
  // In place, as make-tls.sh writes (compose's bind mounts keep the inode); one small write.
  writeFileSync(file(CA), `${pem(NEW_CA)}\n${pem(OLD_CA)}\n`);
  log('1/3 every party trusts the old and the new CA (redis_ca.crt holds both)');
  await moveClients();
  await serveFiles();

  log('2/3 every server presents a certificate from the new CA');
  await renew();
  await serveFiles();
  log(await script('check'));

  log('3/3 the old CA trusted by nobody');
  writeFileSync(file(CA), `${pem(NEW_CA)}\n`);
  writeFileSync(file(CA_KEY), `${pem(NEW_CA_KEY)}\n`);
  await moveClients();
  await serveFiles();
  log(await script('check', { REFUSED_CA: file(OLD_CA) }));
  // The marker first: from here a new run starts afresh (and removes the new CA's files, already in redis_ca.*).
  rmSync(file(OLD_CA));
  for (const name of [NEW_CA, NEW_CA_KEY]) rmSync(file(name), { force: true });
}
