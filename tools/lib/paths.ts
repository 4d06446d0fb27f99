import { join, resolve } from 'node:path';

/** The repository root: every shipped file and the default runtime dir are found from here. */
export const repoRoot = resolve(import.meta.dirname, '../..');

export const shippedFiles = {
  nginxConf: join(repoRoot, 'infra/nginx/nginx.conf'),
  nginxProxyConf: join(repoRoot, 'infra/nginx/proxy.conf'),
  nginxDefaultServerConf: join(repoRoot, 'infra/nginx/default-server.conf'),
  redisConf: join(repoRoot, 'infra/redis/redis.conf'),
  renderAcl: join(repoRoot, 'infra/redis/render-acl.sh'),
  redisConfDir: join(repoRoot, 'infra/redis'),
  renderNode: join(repoRoot, 'infra/redis/render-node.sh'),
  renderSentinel: join(repoRoot, 'infra/redis/render-sentinel.sh'),
  switchover: join(repoRoot, 'infra/redis/switchover.sh'),
  sentinelConf: join(repoRoot, 'infra/redis/sentinel.conf'),
  makeSecrets: join(repoRoot, 'infra/docker/make-secrets.sh'),
  makeTls: join(repoRoot, 'infra/redis/make-tls.sh'),
  rotateCertificates: join(repoRoot, 'infra/redis/rotate-certificates.sh'),
  composeFile: join(repoRoot, 'docker-compose.yml'),
  composeUpstream: join(repoRoot, 'infra/nginx/compose/upstream.conf'),
  composeListen: join(repoRoot, 'infra/nginx/compose/listen.conf'),
  composeListenDefault: join(repoRoot, 'infra/nginx/compose/listen-default.conf'),
  serverNamesTemplate: join(repoRoot, 'infra/nginx/compose/server-names.conf.template'),
  publicPortsTemplate: join(repoRoot, 'infra/nginx/compose/public-ports.conf.template'),
  localUpstreamTemplate: join(repoRoot, 'infra/nginx/local/upstream.conf.template'),
};

/** Where one stack keeps its runtime files (git-ignored `.run/` by default). */
export function runPaths(runDir = join(repoRoot, '.run')) {
  return {
    runDir,
    secrets: join(runDir, 'secrets'),
    redis: join(runDir, 'redis'),
    nginx: join(runDir, 'nginx'),
    pidsFile: join(runDir, 'stack-pids.json'),
  };
}
