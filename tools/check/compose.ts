import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { repoRoot, shippedFiles } from '../lib/paths.ts';
import { ensureSecrets } from '../lib/secrets.ts';
import { run } from '../lib/spawn.ts';
import { resultOf, type CheckResult } from './result.ts';

/** dclint with its default rules (no config file: nothing is switched off), warnings fail too. */
export async function checkDclint(): Promise<CheckResult> {
  const dclint = join(repoRoot, 'node_modules/dclint/bin/dclint.cjs');
  const { code, output } = await run(process.execPath, [dclint, '--max-warnings', '0', '--no-color', shippedFiles.composeFile], {
    cwd: repoRoot,
    stdout: true,
  });
  return resultOf(code === 0 ? [] : [output]);
}

type Service = {
  image?: string;
  profiles?: string[];
  command?: string[];
  entrypoint?: string[];
  secrets?: string[];
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  build?: { dockerfile?: string };
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  healthcheck?: { test?: unknown };
  depends_on?: Record<string, { condition?: string }>;
  deploy?: { replicas?: number };
  environment?: Record<string, string>;
  init?: boolean;
};

/**
 * What docs/deployment.md promises about compose: one app service run as 3 replicas, only nginx published (on
 * 8080), Redis internal, every dependency waited on by healthcheck, configs mounted read-only and present.
 */
export function checkComposeShape(): CheckResult {
  const compose = parse(readFileSync(shippedFiles.composeFile, 'utf8'), { merge: true }) as {
    services?: Record<string, Service>;
  };
  const services = compose.services ?? {};
  const problems: string[] = [];
  const expect = (ok: boolean, problem: string) => ok || problems.push(problem);
  const { app, nginx, prometheus } = services;
  const nodes = ['redis-1', 'redis-2', 'redis-3'];
  const sentinels = ['sentinel-1', 'sentinel-2', 'sentinel-3'];
  const exporters = ['redis-exporter-1', 'redis-exporter-2', 'redis-exporter-3'];
  const catalogue = ['cache-redis', 'migrate', 'postgres'];
  const clusterProfile = ['app-cluster', ...CLUSTER_NODES, 'cluster-create', 'nginx-cluster'];
  const memcachedProfile = ['app-memcached', ...MEMCACHED_NODES, 'nginx-memcached'];
  const expected = [
    'app',
    'backups',
    ...catalogue,
    'nginx',
    'prometheus',
    ...nodes,
    ...exporters,
    ...sentinels,
    ...clusterProfile,
    ...memcachedProfile,
  ].sort();
  expect(
    Object.keys(services).sort().join() === expected.join(),
    `services are ${Object.keys(services).join(', ')}; expected ${expected.join(', ')}`,
  );
  if (!app || !nginx || !prometheus || expected.some((name) => !services[name])) return { ok: false, problems };

  expect(app.deploy?.replicas === 3, 'app: deploy.replicas must be 3');
  expect(app.init === true, 'app: init: true (tini as PID 1)');
  for (const sentinel of sentinels)
    expect(
      app.depends_on?.[sentinel]?.condition === 'service_healthy',
      `app: depends_on ${sentinel} with condition service_healthy`,
    );
  const dockerfile = resolve(repoRoot, app.build?.dockerfile ?? 'missing');
  expect(
    existsSync(dockerfile) && /^HEALTHCHECK /m.test(readFileSync(dockerfile, 'utf8')),
    'app: the image must have a HEALTHCHECK (infra/docker/Dockerfile)',
  );
  const env = app.environment ?? {};
  expect(
    env.NODE_ENV === 'production' && env.HOST === '0.0.0.0' && env.TRUST_PROXY === '1',
    'app: NODE_ENV=production, HOST=0.0.0.0, TRUST_PROXY=1',
  );

  expect(nginx.ports?.length === 1 && /(^|:)8080:8080$/.test(nginx.ports[0] ?? ''), 'nginx: publishes exactly 8080:8080');
  expect(nginx.depends_on?.app?.condition === 'service_healthy', 'nginx: depends_on app with condition service_healthy');
  const nginxVersion = /^nginx:(\d+)\.(\d+)/.exec(nginx.image ?? '');
  expect(
    !!nginxVersion && Number(nginxVersion[1]) * 1000 + Number(nginxVersion[2]) >= 1028,
    'nginx: image nginx:1.28 or newer (upstream resolve needs >= 1.27.3)',
  );

  expect(!app.ports && (app.expose?.includes('9464') ?? false), 'app: metrics port 9464 exposed to the network, not published');
  expect(
    prometheus.ports?.length === 1 && prometheus.ports[0] === '127.0.0.1:9090:9090',
    'prometheus: publishes only 127.0.0.1:9090',
  );
  expect(!!prometheus.healthcheck?.test, 'prometheus: healthcheck');
  expect(
    prometheus.depends_on?.app?.condition === 'service_healthy',
    'prometheus: depends_on app with condition service_healthy',
  );
  expect(!/:latest$/.test(prometheus.image ?? ':latest'), 'prometheus: a pinned image tag');

  // The app finds the primary through every Sentinel, over TLS verified against the stack's CA.
  expect(
    env.REDIS_SENTINELS === sentinels.map((name) => `${name}:26379`).join(',') && /^rediss:\/\//.test(env.REDIS_URL ?? ''),
    'app: REDIS_SENTINELS names sentinel-1..3:26379 and REDIS_URL is rediss://',
  );
  expect(
    !!env.REDIS_TLS_CA_FILE && !!env.REDIS_SENTINEL_PASSWORD_FILE,
    'app: REDIS_TLS_CA_FILE and REDIS_SENTINEL_PASSWORD_FILE',
  );
  for (const [name, port] of [...nodes.map((node) => [node, '6379']), ...sentinels.map((sentinel) => [sentinel, '26379'])]) {
    const service = services[name!]!;
    expect(!service.ports, `${name}: must not publish ports (expose only)`);
    expect(service.expose?.includes(port!) ?? false, `${name}: expose ${port}`);
    expect(/--tls/.test(JSON.stringify(service.healthcheck?.test ?? '')), `${name}: a healthcheck over TLS`);
    expect(service.volumes?.some((volume) => /^[\w-]+:\/data$/.test(volume)) ?? false, `${name}: a named volume on /data`);
  }
  // One exporter per data node, internal, as the `exporter` ACL user over TLS; prometheus.yml's job `redis` scrapes
  // exactly these (the alerts count its targets as the group's nodes).
  nodes.forEach((node, i) => {
    const exporter = services[exporters[i]!]!;
    expect(!exporter.ports && (exporter.expose?.includes('9121') ?? false), `${exporters[i]}: expose 9121, publish nothing`);
    expect(!!exporter.healthcheck?.test, `${exporters[i]}: healthcheck`);
    expect(exporter.depends_on?.[node]?.condition === 'service_healthy', `${exporters[i]}: depends_on ${node} healthy`);
    expect(
      exporter.command?.join(' ') === `-redis.addr=rediss://${node}:6379` && exporter.environment?.REDIS_USER === 'exporter',
      `${exporters[i]}: watches rediss://${node}:6379 as the exporter user`,
    );
    expect(!/:latest$/.test(exporter.image ?? ':latest'), `${exporters[i]}: a pinned image tag`);
    expect(
      (services[node]!.secrets ?? []).includes('redis_exporter_password'),
      `${node}: mounts redis_exporter_password (render-acl.sh)`,
    );
  });
  const scrape = parse(readFileSync(join(repoRoot, 'infra/prometheus/prometheus.yml'), 'utf8')) as {
    scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[];
  };
  const redisTargets = scrape.scrape_configs.find((job) => job.job_name === 'redis')?.static_configs?.[0]?.targets ?? [];
  expect(
    redisTargets.join() === exporters.map((name) => `${name}:9121`).join(),
    'prometheus.yml: job redis scrapes redis-exporter-1..3:9121',
  );

  // The catalogue: the app waits for the migration to have run and for its cache; nothing of it is published.
  expect(app.depends_on?.migrate?.condition === 'service_completed_successfully', 'app: depends_on migrate completed');
  expect(app.depends_on?.['cache-redis']?.condition === 'service_healthy', 'app: depends_on cache-redis healthy');
  expect(services.migrate!.depends_on?.postgres?.condition === 'service_healthy', 'migrate: depends_on postgres healthy');
  for (const name of ['cache-redis', 'postgres']) {
    expect(!services[name]!.ports, `${name}: must not publish ports (expose only)`);
    expect(!!services[name]!.healthcheck?.test, `${name}: healthcheck`);
  }
  expect(/--tls/.test(JSON.stringify(services['cache-redis']!.healthcheck?.test ?? '')), 'cache-redis: a healthcheck over TLS');
  expect(!services['cache-redis']!.volumes?.some((volume) => /:\/data$/.test(volume)), 'cache-redis: nothing persisted');
  expect(
    services.postgres!.volumes?.some((volume) => /^[\w-]+:\/var\/lib\/postgresql\/data$/.test(volume)) ?? false,
    'postgres: a named volume on its data directory',
  );
  for (const sentinel of sentinels)
    for (const node of nodes)
      expect(services[sentinel]!.depends_on?.[node]?.condition === 'service_healthy', `${sentinel}: depends_on ${node} healthy`);

  // Profiles cluster and memcached: the same app and nginx on a Redis Cluster, or with the cache on memcached; profile
  // backups: the scheduled backup. Each started only with its --profile.
  const profileOf = (name: string) =>
    clusterProfile.includes(name)
      ? 'cluster'
      : memcachedProfile.includes(name)
        ? 'memcached'
        : name === 'backups'
          ? 'backups'
          : undefined;
  for (const [name, service] of Object.entries(services)) {
    const profile = profileOf(name);
    expect(
      JSON.stringify(service.profiles ?? []) === JSON.stringify(profile ? [profile] : []),
      `${name}: ${profile ? `profiles: ['${profile}']` : 'no profile (the default stack)'}`,
    );
  }
  const appMemcached = services['app-memcached']!;
  expect(
    appMemcached.environment?.CACHE_ENGINE === 'memcached' &&
      appMemcached.environment?.CACHE_MEMCACHED_SERVERS === MEMCACHED_NODES.map((node) => `${node}:11211`).join(',') &&
      !!appMemcached.environment?.CACHE_MEMCACHED_PASSWORD_FILE &&
      !!appMemcached.environment?.CACHE_MEMCACHED_TLS_CA_FILE,
    'app-memcached: CACHE_ENGINE=memcached on memcached-1..3:11211, with a password file and TLS',
  );
  expect(
    !Array.isArray(appMemcached.networks) && !!appMemcached.networks?.memcached?.aliases?.includes('app'),
    'app-memcached: aliased "app" on the memcached network (what the shared nginx upstream resolves)',
  );
  for (const node of MEMCACHED_NODES) expect(!services[node]!.ports, `${node}: not published`);
  // The scheduled backup: least privilege (the replica and sentinel-app users, never admin), nothing published.
  const backups = services.backups!;
  expect(
    JSON.stringify([...(backups.secrets ?? [])].sort()) ===
      JSON.stringify([
        'backup_signing_key',
        'postgres_password',
        'redis_ca.crt',
        'redis_replica_password',
        'redis_sentinel_app_password',
      ]),
    'backups: secrets redis_replica_password, redis_sentinel_app_password, postgres_password, redis_ca.crt, backup_signing_key only',
  );
  expect(!backups.ports && !!backups.healthcheck?.test, 'backups: a healthcheck, nothing published');
  expect(backups.volumes?.includes('backups:/backups') ?? false, 'backups: the snapshots on a named volume');
  const appCluster = services['app-cluster']!;
  const clusterEnv = appCluster.environment ?? {};
  const located = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_SENTINEL_PASSWORD_FILE', 'REDIS_CLUSTER_NODES'];
  const sameSettings = (environment: Record<string, string>) =>
    JSON.stringify(Object.entries(environment).filter(([name]) => !located.includes(name)));
  expect(sameSettings(clusterEnv) === sameSettings(env), "app-cluster: the app's settings, but where its session Redis is");
  expect(
    clusterEnv.REDIS_CLUSTER_NODES === CLUSTER_NODES.map((node) => `${node}:6379`).join(',') &&
      /^rediss:\/\//.test(clusterEnv.REDIS_URL ?? '') &&
      !clusterEnv.REDIS_SENTINELS,
    'app-cluster: REDIS_CLUSTER_NODES names cluster-1..6:6379, REDIS_URL is rediss://, no REDIS_SENTINELS',
  );
  expect(appCluster.deploy?.replicas === 3 && !appCluster.ports, 'app-cluster: 3 replicas, nothing published');
  expect(
    appCluster.depends_on?.['cluster-create']?.condition === 'service_completed_successfully',
    'app-cluster: depends_on cluster-create completed',
  );
  const clusterNetwork = (service: Service) =>
    Array.isArray(service.networks) ? service.networks.includes('cluster') : !!service.networks && 'cluster' in service.networks;
  expect(
    !Array.isArray(appCluster.networks) && !!appCluster.networks?.cluster?.aliases?.includes('app'),
    'app-cluster: aliased "app" on the cluster network (what the shared nginx upstream resolves)',
  );
  for (const [name, service] of Object.entries(services))
    if (name !== 'app-cluster' && name !== 'nginx-cluster')
      expect(!clusterNetwork(service), `${name}: not on the cluster network ("app" there must be app-cluster only)`);
  const nginxCluster = services['nginx-cluster']!;
  expect(
    JSON.stringify(nginxCluster.ports) === JSON.stringify(['127.0.0.1:8081:8080']) &&
      JSON.stringify(nginxCluster.networks) === JSON.stringify(['cluster']) &&
      JSON.stringify(nginxCluster.volumes) === JSON.stringify(nginx.volumes),
    "nginx-cluster: nginx's files, only on the cluster network, publishing only 127.0.0.1:8081",
  );
  for (const node of CLUSTER_NODES) {
    const service = services[node]!;
    expect(JSON.stringify(service.command) === JSON.stringify(['cluster-node', node]), `${node}: command cluster-node ${node}`);
    expect(!service.ports && (service.expose?.includes('6379') ?? false), `${node}: expose 6379, publish nothing`);
    expect(/--tls/.test(JSON.stringify(service.healthcheck?.test ?? '')), `${node}: a healthcheck over TLS`);
    expect(service.volumes?.includes(`${node}-data:/data`) ?? false, `${node}: a named volume on /data`);
    expect(
      services['cluster-create']!.depends_on?.[node]?.condition === 'service_healthy',
      `cluster-create: depends_on ${node} healthy`,
    );
  }

  for (const [name, service] of Object.entries(services)) {
    for (const volume of service.volumes ?? []) {
      if (!volume.startsWith('./')) continue;
      const [source] = volume.split(':');
      expect(volume.endsWith(':ro'), `${name}: bind mount ${volume} must be read-only (:ro)`);
      expect(existsSync(resolve(repoRoot, source ?? '')), `${name}: bind mount source ${source} does not exist`);
    }
  }
  return resultOf(problems);
}

/** The memcached nodes of compose's memcached profile, as the app's CACHE_MEMCACHED_SERVERS and the certificate name them. */
const MEMCACHED_NODES = ['memcached-1', 'memcached-2', 'memcached-3'];

/** The Redis Cluster nodes of compose's cluster profile, as the app's seeds and the certificate name them. */
const CLUSTER_NODES = ['cluster-1', 'cluster-2', 'cluster-3', 'cluster-4', 'cluster-5', 'cluster-6'];

/**
 * Every compose Redis service's entrypoint, run for real outside a container: with exactly the secrets compose gives
 * that service and exactly the files it mounts, compose-entrypoint.sh must render its ACL and config and reach
 * redis-server (a stand-in docker-entrypoint.sh records the command), and every file the rendered config includes
 * must be one the service mounts. Also: every name a client dials (each Redis service) is in the certificate.
 */
export function checkComposeEntrypoints(): CheckResult {
  const compose = parse(readFileSync(shippedFiles.composeFile, 'utf8'), { merge: true }) as {
    services: Record<string, Service>;
  };
  const problems: string[] = [];
  const root = mkdtempSync(join(tmpdir(), 'compose-entrypoint-'));
  try {
    const secrets = ensureSecrets(join(root, 'secrets'));
    const stubs = join(root, 'bin');
    mkdirSync(stubs);
    writeFileSync(join(stubs, 'docker-entrypoint.sh'), '#!/bin/sh\necho "$(umask) $@" >"$REDIS_DATA_DIR/started"\n', {
      mode: 0o755,
    });
    writeFileSync(join(stubs, 'chown'), '#!/bin/sh\n', { mode: 0o755 });
    const mount = '/usr/local/etc/redis/';
    for (const [name, service] of Object.entries(compose.services)) {
      if (!service.image?.startsWith('redis:') || !service.entrypoint?.join(' ').includes('compose-entrypoint.sh')) continue;
      if (service.command?.[0] === 'cluster-create') continue; // talks to the running nodes: compose only
      const dir = join(root, name);
      const [conf, run, data, own] = ['conf', 'run', 'data', 'secrets'].map((sub) => join(dir, sub));
      for (const sub of [conf!, run!, data!, own!]) mkdirSync(sub, { recursive: true });
      for (const volume of service.volumes ?? []) {
        const [source, target] = volume.split(':');
        if (source?.startsWith('./') && target?.startsWith(mount))
          symlinkSync(resolve(repoRoot, source), join(conf!, target.slice(mount.length)));
      }
      for (const secret of service.secrets ?? []) copyFileSync(join(secrets.dir, secret), join(own!, secret));
      const result = spawnSync('sh', [join(conf!, 'compose-entrypoint.sh'), ...(service.command ?? [])], {
        env: {
          ...process.env,
          PATH: `${stubs}:${process.env.PATH}`,
          REDIS_CONF_DIR: conf,
          REDIS_SECRETS_DIR: own,
          REDIS_RUN_DIR: run,
          REDIS_DATA_DIR: data,
        },
        encoding: 'utf8',
      });
      if (result.status !== 0 || !existsSync(join(data!, 'started'))) {
        problems.push(`${name}: compose-entrypoint.sh ${service.command?.join(' ')} failed: ${result.stderr.trim()}`);
        continue;
      }
      const umask = readFileSync(join(data!, 'started'), 'utf8').split(' ')[0];
      if (umask !== '0077')
        problems.push(`${name}: redis-server starts with umask ${umask}, not 0077 (its files readable by others)`);
      const rendered = ['node.conf', 'sentinel.conf'].map((file) => join(data!, file)).filter((file) => existsSync(file));
      for (const file of rendered)
        for (const [, included] of readFileSync(file, 'utf8').matchAll(/^include (\S+)$/gm))
          if (!existsSync(included!))
            problems.push(`${name}: its config includes ${basename(included!)}, which it does not mount`);
    }
    const certificate = join(secrets.dir, 'redis_server.crt');
    const san = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', certificate], { encoding: 'utf8' });
    const names = new Set(san.match(/(?<=DNS:)[^,\s]+/g));
    for (const [name, service] of Object.entries(compose.services))
      if (/^(redis|memcached):/.test(service.image ?? '') && service.expose?.length && !names.has(name))
        problems.push(`${name}: not in the certificate's names (infra/redis/make-tls.sh): TLS to it fails`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return resultOf(problems);
}

/** The image runs node itself as a non-root user (never npm), from a Node 24 base. */
export function checkDockerfile(): CheckResult {
  const text = readFileSync(join(repoRoot, 'infra/docker/Dockerfile'), 'utf8');
  const problems: string[] = [];
  if (!/^ARG NODE_VERSION=24\./m.test(text) || !/^FROM node:\$\{NODE_VERSION\}-bookworm-slim/m.test(text))
    problems.push('base image must be node:24 bookworm-slim');
  if (!/^USER node$/m.test(text)) problems.push('must run as USER node');
  if (!/^CMD \["node", "app\/src\/server\.ts"\]$/m.test(text)) problems.push('CMD must be ["node", "app/src/server.ts"]');
  if (!/npm ci --omit=dev/.test(text)) problems.push('dependencies must be installed with npm ci --omit=dev');
  return resultOf(problems);
}
