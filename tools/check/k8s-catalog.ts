// infra/k8s/overlays/catalog-memcached: what docs/deployment.md promises about the catalogue in Kubernetes, on the build.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../lib/paths.ts';

type Manifest = { kind: string; metadata: { name: string }; spec?: any; data?: any };

/** The names the server certificate holds (infra/redis/make-tls.sh's subjectAltName), which TLS clients verify. */
function certificateNames(): Set<string> {
  const script = readFileSync(join(repoRoot, 'infra/redis/make-tls.sh'), 'utf8');
  return new Set(/^subjectAltName=(.*)$/m.exec(script)?.[1]?.match(/(?<=DNS:)[^,\s]+/g) ?? []);
}

/**
 * The memcached StatefulSet and its headless Service give every node a stable name; the app's CACHE_MEMCACHED_SERVERS
 * names exactly those pods, each in the certificate; the app's password, CA and database password files are in its
 * projected secrets volume where the variables say; DATABASE_URL comes from a Secret; the nodes run the shipped
 * entrypoint (TLS, authentication); only the app reaches them; the schema Job runs the migrations as the owner.
 */
export function catalogMemcachedProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  const expect = (ok: boolean, problem: string) => ok || problems.push(problem);
  const find = (kind: string, name: string) => manifests.find((m) => m.kind === kind && m.metadata.name === name);
  const env: Record<string, string> =
    manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('app-env-'))?.data ?? {};
  const app = find('Deployment', 'app')?.spec.template.spec;
  const container = app?.containers.find((c: any) => c.name === 'app');

  const memcached = find('StatefulSet', 'memcached');
  const service = find('Service', 'memcached');
  if (!memcached || !service) return ['catalog-memcached: needs a StatefulSet memcached and a Service memcached'];
  const podLabels = memcached.spec.template.metadata.labels;
  expect(memcached.spec.replicas === 3, 'memcached: replicas must be 3');
  expect(memcached.spec.serviceName === 'memcached', 'memcached: serviceName must be the headless Service memcached');
  expect(
    service.spec.clusterIP === 'None' &&
      Object.entries(service.spec.selector ?? {}).every(([key, value]) => podLabels[key] === value) &&
      service.spec.ports?.some((port: any) => port.port === 11211),
    'Service memcached: must be headless (clusterIP None), select the memcached pods, on 11211',
  );
  const pods = Array.from({ length: memcached.spec.replicas }, (_, i) => `memcached-${i}.memcached:11211`);
  expect(env.CACHE_ENGINE === 'memcached', 'app: CACHE_ENGINE must be memcached');
  expect(
    env.CACHE_MEMCACHED_SERVERS === pods.join(','),
    `app: CACHE_MEMCACHED_SERVERS must name the StatefulSet's pods (${pods.join(',')}), is ${env.CACHE_MEMCACHED_SERVERS}`,
  );
  const names = certificateNames();
  for (const pod of pods)
    expect(names.has(pod.split(':')[0]!), `${pod}: not in the certificate's names (infra/redis/make-tls.sh): TLS to it fails`);

  // Every file a variable names is in the app's projected secrets volume, at that path.
  const mount = container?.volumeMounts?.find((m: any) => m.name === 'secrets')?.mountPath;
  const volume = app?.volumes?.find((v: any) => v.name === 'secrets');
  const files = new Set(
    (volume?.projected?.sources ?? [])
      .flatMap((source: any) => source.secret?.items ?? [])
      .map((item: any) => `${mount}/${item.path}`),
  );
  for (const variable of ['CACHE_MEMCACHED_PASSWORD_FILE', 'CACHE_MEMCACHED_TLS_CA_FILE', 'DATABASE_PASSWORD_FILE'])
    expect(files.has(env[variable] ?? ''), `app: ${variable} (${env[variable]}) is not a file of its secrets volume`);
  const databaseUrl = container?.env?.find((e: any) => e.name === 'DATABASE_URL');
  expect(
    databaseUrl?.valueFrom?.secretKeyRef?.name === 'catalog-secrets' && env.DATABASE_URL === undefined,
    'app: DATABASE_URL must come from the Secret catalog-secrets (and not from the ConfigMap)',
  );

  const node = memcached.spec.template.spec.containers[0];
  const entrypoint = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('memcached-entrypoint-'));
  expect(
    JSON.stringify(node?.command) === '["sh","/etc/memcached/entrypoint.sh"]' &&
      entrypoint?.data?.['entrypoint.sh'] === readFileSync(join(repoRoot, 'infra/memcached/compose-entrypoint.sh'), 'utf8'),
    "memcached: must run compose's entrypoint (infra/memcached/compose-entrypoint.sh: -Z, -Y) from the ConfigMap",
  );
  const peers = manifests
    .filter((m) => m.kind === 'NetworkPolicy' && m.spec.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'memcached')
    .flatMap((policy) => policy.spec.ingress ?? [])
    .flatMap((rule: any) => rule.from ?? [{}])
    .map((peer: any) => peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] ?? 'anyone');
  expect(
    peers.length > 0 && peers.every((peer) => peer === 'app'),
    `NetworkPolicy: memcached must admit only the app, admits ${peers.join(', ') || 'nothing (no policy)'}`,
  );
  const pdb = find('PodDisruptionBudget', 'memcached');
  expect(pdb?.spec?.maxUnavailable === 1, 'PodDisruptionBudget memcached: maxUnavailable 1');

  const migrate = find('Job', 'catalog-migrate')?.spec.template.spec.containers[0];
  expect(
    JSON.stringify(migrate?.command) === '["node","app/db/migrate.ts"]' &&
      migrate.image === container?.image &&
      migrate.env?.find((e: any) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef?.key === 'database_owner_url',
    "Job catalog-migrate: the app's image running app/db/migrate.ts as the owner (database_owner_url)",
  );
  return problems;
}
