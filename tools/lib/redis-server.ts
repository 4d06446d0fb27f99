import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { shippedFiles } from './paths.ts';
import { withRedis } from './redis.ts';

const execFileAsync = promisify(execFile);

/** Renders the ACL with the same script compose uses; REDIS_SERVER tells it which Redis version it targets. */
export function renderAcl(
  secretsDir: string,
  output: string,
  redisServer: string,
  role: 'sessions' | 'cluster' | 'cache' = 'sessions',
): void {
  execFileSync('sh', [shippedFiles.renderAcl, secretsDir, output, role], {
    env: { ...process.env, REDIS_SERVER: redisServer },
    stdio: 'pipe',
  });
}

/** The shipped redis.conf plus the local overrides, as command-line arguments (applied after the file). */
export function redisArgs({ port, dir, aclfile }: { port: number; dir: string; aclfile: string }): string[] {
  return [
    shippedFiles.redisConf,
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--aclfile',
    aclfile,
    '--daemonize',
    'no',
  ];
}

/** The certificate paths of the secrets directory, after the shipped tls.conf's (which name compose's /run/secrets). */
const tlsArgs = (secretsDir: string) => [
  '--tls-cert-file',
  join(secretsDir, 'redis_server.crt'),
  '--tls-key-file',
  join(secretsDir, 'redis_server.key'),
  '--tls-ca-cert-file',
  join(secretsDir, 'redis_ca.crt'),
];

type Primary = { host: string; port: number };

/**
 * A data node of a Sentinel group: its own config file rendered by the script compose uses (first start only: Sentinel
 * rewrites it), then redis-server on that file with TLS on `port` (no plaintext port), from `dir`.
 */
export function sentinelNodeArgs(options: {
  secretsDir: string;
  dir: string;
  port: number;
  aclfile: string;
  replicaOf?: Primary;
}) {
  const config = join(options.dir, 'node.conf');
  const primary = options.replicaOf ? [options.replicaOf.host, String(options.replicaOf.port)] : [];
  execFileSync('sh', [shippedFiles.renderNode, options.secretsDir, shippedFiles.redisConfDir, config, '127.0.0.1', ...primary], {
    stdio: 'pipe',
  });
  const args = [config, '--tls-port', String(options.port), '--bind', '127.0.0.1', '--dir', options.dir];
  return [...args, '--aclfile', options.aclfile, ...tlsArgs(options.secretsDir), '--daemonize', 'no'];
}

/** A Sentinel: its own copy of the shipped sentinel.conf (first start only), run by redis-server --sentinel. */
export function sentinelArgs(options: {
  secretsDir: string;
  dir: string;
  port: number;
  primary: Primary;
  /**
   * The address this Sentinel connects from (to the data nodes and the other Sentinels), and also listens on, since
   * its hello messages tell the others to find it at the address its link to the primary comes from (sentinel.c,
   * sentinelSendHello). Clients still reach it on 127.0.0.1. Any 127.x address is local on Linux.
   */
  source?: string;
}) {
  const config = join(options.dir, 'sentinel.conf');
  const { host, port } = options.primary;
  execFileSync('sh', [shippedFiles.renderSentinel, options.secretsDir, shippedFiles.sentinelConf, config, host, String(port)], {
    stdio: 'pipe',
  });
  const bind = options.source
    ? ['--bind', '127.0.0.1', options.source, '--bind-source-addr', options.source]
    : ['--bind', '127.0.0.1'];
  const args = [config, '--sentinel', '--tls-port', String(options.port), ...bind, '--dir', options.dir];
  return [...args, ...tlsArgs(options.secretsDir), '--daemonize', 'no'];
}

/** A lone node with TLS (`--redis single`): the shipped redis.conf and tls.conf, TLS on `port`, no plaintext port. */
export function singleNodeArgs(options: { secretsDir: string; dir: string; port: number; aclfile: string }) {
  const args = [
    shippedFiles.redisConf,
    '--include',
    join(shippedFiles.redisConfDir, 'tls.conf'),
    '--tls-port',
    String(options.port),
  ];
  return [
    ...args,
    '--bind',
    '127.0.0.1',
    '--dir',
    options.dir,
    '--aclfile',
    options.aclfile,
    ...tlsArgs(options.secretsDir),
    '--daemonize',
    'no',
  ];
}

/** The cache Redis (infra/redis/cache.conf), TLS only like the session Redis, its own ACL (render-acl.sh … cache). */
export function cacheNodeArgs(options: { secretsDir: string; dir: string; port: number; aclfile: string }) {
  const args = [join(shippedFiles.redisConfDir, 'cache.conf'), '--include', join(shippedFiles.redisConfDir, 'tls.conf')];
  args.push('--tls-port', String(options.port), '--bind', '127.0.0.1', '--dir', options.dir, '--aclfile', options.aclfile);
  return [...args, ...tlsArgs(options.secretsDir), '--daemonize', 'no'];
}

/** A Redis Cluster node: redis.conf, tls.conf and cluster.conf through its own config (render-node.sh --cluster). */
export function clusterNodeArgs(options: { secretsDir: string; dir: string; port: number; aclfile: string }) {
  const config = join(options.dir, 'node.conf');
  execFileSync('sh', [shippedFiles.renderNode, '--cluster', options.secretsDir, shippedFiles.redisConfDir, config, '127.0.0.1'], {
    stdio: 'pipe',
  });
  const args = [config, '--tls-port', String(options.port), '--bind', '127.0.0.1', '--dir', options.dir];
  return [...args, '--aclfile', options.aclfile, ...tlsArgs(options.secretsDir), '--daemonize', 'no'];
}

/**
 * Joins six started nodes into three primaries with a replica each (`redis-cli --cluster create`), as admin, over TLS.
 * redis-cli waits for the nodes to agree ("Waiting for the cluster to join") with no limit of its own, so the wait is
 * bounded here: past `timeoutMs` it is killed and this rejects with what it printed.
 */
export async function createCluster(options: { secretsDir: string; ports: number[]; adminPassword: string; timeoutMs?: number }) {
  const nodes = options.ports.map((port) => `127.0.0.1:${port}`);
  const args = ['--tls', '--cacert', join(options.secretsDir, 'redis_ca.crt'), '--user', 'admin', '--no-auth-warning'];
  const env = { ...process.env, REDISCLI_AUTH: options.adminPassword };
  const timeout = options.timeoutMs ?? 60_000;
  try {
    await execFileAsync('redis-cli', [...args, '--cluster', 'create', ...nodes, '--cluster-replicas', '1', '--cluster-yes'], {
      env,
      timeout,
      killSignal: 'SIGKILL',
    });
  } catch (err) {
    const { killed, stdout } = err as { killed?: boolean; stdout?: string };
    if (!killed) throw err;
    throw new Error(`redis-cli --cluster create did not finish in ${timeout} ms; it printed:\n${String(stdout).slice(-2000)}`);
  }
}

/**
 * A cluster is ready when every node says every slot is served (one that has not yet heard of the others answers
 * CLUSTERDOWN to a command it would redirect) and `replicas` replicas are in sync (one that never synced cannot take
 * over). Asked of each node through its admin URL.
 */
export async function clusterReady(adminUrls: string[], replicas: number): Promise<boolean> {
  try {
    const states = await Promise.all(adminUrls.map((url) => withRedis(url, (client) => client.clusterInfo())));
    if (!states.every((info) => info.includes('cluster_state:ok'))) return false;
    const infos = await Promise.all(adminUrls.map((url) => withRedis(url, (client) => client.info('replication'))));
    return infos.filter((info) => info.includes('role:slave') && info.includes('master_link_status:up')).length === replicas;
  } catch {
    return false;
  }
}
