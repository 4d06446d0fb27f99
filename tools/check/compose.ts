import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { repoRoot, shippedFiles } from '../lib/paths.ts';
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
 * What the README promises about compose: one app service run as 3 replicas, only nginx published (on
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
  const catalogue = ['cache-redis', 'migrate', 'postgres'];
  const expected = ['app', ...catalogue, 'nginx', 'prometheus', ...nodes, ...sentinels].sort();
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
