// infra/k8s: every overlay's `kubectl kustomize` build validated against the Kubernetes OpenAPI schemas
// bundled by kubernetes-models (v1.27.1 API, a devDependency), plus what docs/deployment.md promises about it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { repoRoot, shippedFiles } from '../lib/paths.ts';
import { findExecutable } from '../lib/prereqs.ts';
import { run } from '../lib/spawn.ts';
import { catalogMemcachedProblems } from './k8s-catalog.ts';
import { resultOf, type CheckResult } from './result.ts';

export const overlays = ['single', 'sentinel', 'managed', 'catalog-memcached'] as const;

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  data?: any;
};

/** The overlay's build as kubectl sees it; the base reads ../../nginx and ../../redis, hence the load restrictor. */
export async function buildOverlay(overlay: string): Promise<Manifest[]> {
  const { code, output } = await run(
    'kubectl',
    ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', join(repoRoot, 'infra/k8s/overlays', overlay)],
    { cwd: repoRoot, stdout: true },
  );
  if (code !== 0) throw new Error(`kubectl kustomize ${overlay} failed:\n${output}`);
  return parseAllDocuments(output).map((doc) => doc.toJS() as Manifest);
}

/** kubernetes-models' module for an apiVersion/kind: core "v1" has no group directory prefix. */
async function validate(manifest: Manifest): Promise<string | undefined> {
  const module = `kubernetes-models/${manifest.apiVersion}/${manifest.kind}`;
  let Model: new (data: unknown) => { validate(): void };
  try {
    Model = (await import(module))[manifest.kind];
  } catch {
    return `${manifest.kind} ${manifest.metadata.name}: no schema for ${manifest.apiVersion} (${module})`;
  }
  try {
    new Model(manifest).validate();
  } catch (err) {
    return `${manifest.kind} ${manifest.metadata.name}: ${(err as Error).message}`;
  }
  return undefined;
}

export async function checkK8sSchemas(overlay: string): Promise<CheckResult> {
  let manifests: Manifest[];
  try {
    manifests = await buildOverlay(overlay);
  } catch (err) {
    return resultOf([(err as Error).message]);
  }
  const problems = (await Promise.all(manifests.map(validate))).filter((problem) => problem !== undefined);
  return resultOf(problems);
}

/** The umask redis-server gets from a container's command, run with a stand-in redis-server that prints it. */
function umaskOf(command: string[]): string {
  const stubs = mkdtempSync(join(tmpdir(), 'k8s-umask-'));
  try {
    writeFileSync(join(stubs, 'redis-server'), '#!/bin/sh\numask\n', { mode: 0o755 });
    const [file = '', ...args] = command;
    const result = spawnSync(file, args, { env: { PATH: `${stubs}:${process.env.PATH}` }, encoding: 'utf8' });
    return result.stdout.trim() || `unknown (${result.stderr.trim()})`;
  } finally {
    rmSync(stubs, { recursive: true, force: true });
  }
}

const containersOf = (manifest: Manifest): any[] => [
  ...(manifest.spec?.template?.spec?.containers ?? []),
  ...(manifest.spec?.template?.spec?.initContainers ?? []),
];

const matches = (selector: Record<string, string> = {}, labels: Record<string, string> = {}) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);

/** The environment variable names of compose's app service (its environment map). */
export function composeAppEnvNames(): string[] {
  const compose = parse(readFileSync(shippedFiles.composeFile, 'utf8'), { merge: true }) as {
    services: { app: { environment: Record<string, string> } };
  };
  return Object.keys(compose.services.app.environment).sort();
}

/**
 * The promises of docs/deployment.md's Kubernetes section, on one overlay's build: probes, shutdown timing,
 * hardening, PDB and HPA aimed at the app, no latest tags, compose's app variables, NetworkPolicies.
 */
export async function checkK8sShape(overlay: string): Promise<CheckResult> {
  let manifests: Manifest[];
  try {
    manifests = await buildOverlay(overlay);
  } catch (err) {
    return resultOf([(err as Error).message]);
  }
  const problems: string[] = [];
  const expect = (ok: boolean, problem: string) => ok || problems.push(problem);
  const find = (kind: string, name: string) => manifests.find((m) => m.kind === kind && m.metadata.name === name);
  const app = find('Deployment', 'app');
  if (!app) return resultOf(['no Deployment app']);
  const pod = app.spec.template.spec;
  const podLabels = app.spec.template.metadata?.labels;
  const container = pod.containers.find((c: any) => c.name === 'app');
  const env: Record<string, string> =
    manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('app-env-'))?.data ?? {};

  expect(app.spec.replicas === 3, 'app: replicas must be 3');
  expect(matches(app.spec.selector?.matchLabels, podLabels), 'app: selector does not match its pod labels');
  expect(container?.readinessProbe?.httpGet?.path === '/readyz', 'app: readinessProbe must GET /readyz');
  expect(container?.livenessProbe?.httpGet?.path === '/healthz', 'app: livenessProbe must GET /healthz');
  const preStop = container?.lifecycle?.preStop?.exec?.command;
  const delayMs = Number(env.SHUTDOWN_DELAY_MS);
  const timeoutMs = Number(env.SHUTDOWN_TIMEOUT_MS);
  expect(
    Array.isArray(preStop) && preStop[0] === 'sleep' && Number(preStop[1]) * 1000 === delayMs,
    `app: preStop must sleep SHUTDOWN_DELAY_MS (${env.SHUTDOWN_DELAY_MS} ms), has ${JSON.stringify(preStop)}`,
  );
  expect(
    pod.terminationGracePeriodSeconds * 1000 > delayMs + timeoutMs,
    `app: terminationGracePeriodSeconds (${pod.terminationGracePeriodSeconds}) must exceed SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS`,
  );
  expect(
    container?.resources?.requests?.cpu && container?.resources?.limits?.memory,
    'app: needs a cpu request and a memory limit',
  );
  expect(pod.automountServiceAccountToken === false, 'app: automountServiceAccountToken must be false');

  // Every pod: non-root, RuntimeDefault seccomp, and each container read-only, ALL capabilities dropped.
  for (const workload of manifests.filter((m) => m.spec?.template?.spec)) {
    const spec = workload.spec.template.spec;
    const where = `${workload.kind} ${workload.metadata.name}`;
    expect(spec.securityContext?.runAsNonRoot === true, `${where}: runAsNonRoot must be true`);
    expect(spec.securityContext?.seccompProfile?.type === 'RuntimeDefault', `${where}: seccompProfile must be RuntimeDefault`);
    expect(spec.automountServiceAccountToken === false, `${where}: automountServiceAccountToken must be false`);
    for (const c of containersOf(workload)) {
      expect(c.securityContext?.readOnlyRootFilesystem === true, `${where}/${c.name}: readOnlyRootFilesystem must be true`);
      expect(c.securityContext?.allowPrivilegeEscalation === false, `${where}/${c.name}: allowPrivilegeEscalation must be false`);
      expect(
        JSON.stringify(c.securityContext?.capabilities?.drop) === '["ALL"]',
        `${where}/${c.name}: capabilities must drop ALL`,
      );
      // A tag that names a version: not latest, not absent.
      const tag = /:([^/:@]+)$/.exec(c.image ?? '')?.[1];
      expect(tag !== undefined && tag !== 'latest', `${where}/${c.name}: image ${c.image} needs a pinned tag, not latest`);
      if (c.command?.includes('redis-server')) {
        const umask = umaskOf(c.command);
        expect(
          umask === '0077',
          `${where}/${c.name}: redis-server starts with umask ${umask}, not 0077 (its files readable by others)`,
        );
      }
    }
  }

  const pdb = find('PodDisruptionBudget', 'app');
  expect(
    matches(pdb?.spec?.selector?.matchLabels, podLabels),
    "PodDisruptionBudget app: selector must match the app's pod labels",
  );
  const hpa = find('HorizontalPodAutoscaler', 'app');
  expect(
    hpa?.spec?.scaleTargetRef?.kind === 'Deployment' && hpa.spec.scaleTargetRef.name === 'app' && hpa.spec.minReplicas >= 3,
    'HorizontalPodAutoscaler app: must scale Deployment app from at least 3',
  );

  // compose's app variables, by name, all present (the base's app.env); REDIS_URL may be replaced by Sentinel's.
  const names = new Set([...Object.keys(env), ...(container?.env ?? []).map((e: any) => e.name)]);
  // Compose runs the Sentinel topology: its Sentinel and CA settings apply to the sentinel overlay only. The
  // catalogue (PostgreSQL and its cache) is in catalog-memcached only, whose cache is memcached, not the cache Redis.
  const catalogue =
    overlay === 'catalog-memcached'
      ? ['CACHE_REDIS_URL', 'CACHE_REDIS_PASSWORD_FILE']
      : ['DATABASE_URL', 'DATABASE_PASSWORD_FILE', 'CACHE_REDIS_URL', 'CACHE_REDIS_PASSWORD_FILE'];
  const sentinelOnly = ['REDIS_SENTINELS', 'REDIS_SENTINEL_PASSWORD_FILE', 'REDIS_TLS_CA_FILE'];
  const missing = composeAppEnvNames().filter(
    (name) => !names.has(name) && !catalogue.includes(name) && (overlay === 'sentinel' || !sentinelOnly.includes(name)),
  );
  expect(missing.length === 0, `app: compose's app variables missing: ${missing.join(', ')}`);
  const envMap = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('app-env-'));
  expect(
    container?.envFrom?.some((e: any) => e.configMapRef?.name === envMap?.metadata.name) === true,
    'app: envFrom must reference the app-env ConfigMap',
  );

  // Only nginx reaches the app; only the app (and the backup job) reaches Redis (when Redis runs in the cluster).
  const policies = manifests.filter((m) => m.kind === 'NetworkPolicy');
  const allowedFrom = (target: string) =>
    policies
      .filter((p) => p.spec.podSelector?.matchLabels?.['app.kubernetes.io/name'] === target)
      .flatMap((p) => p.spec.ingress ?? [])
      .flatMap((rule: any) => rule.from ?? [{}])
      .map((peer: any) => peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] ?? 'anyone');
  const appPeers = allowedFrom('app');
  expect(
    appPeers.length > 0 && appPeers.every((peer) => peer === 'nginx'),
    `NetworkPolicy: app must admit only nginx, admits ${appPeers.join(', ') || 'nothing (no policy)'}`,
  );
  if (overlay !== 'managed') {
    // Prometheus reaches the exporter sidecar's port, and that alone (rules naming it list 9121 only).
    const redisRules = policies
      .filter((p) => p.spec.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'redis')
      .flatMap((p) => p.spec.ingress ?? []);
    const scrapeRules = redisRules.filter((rule: any) =>
      (rule.from ?? []).some((peer: any) => peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'prometheus'),
    );
    expect(
      scrapeRules.every(
        (rule: any) => (rule.from ?? []).length === 1 && JSON.stringify((rule.ports ?? []).map((p: any) => p.port)) === '[9121]',
      ),
      'NetworkPolicy: redis may admit prometheus on the exporter port 9121 only, in a rule of its own',
    );
    const redisPeers = allowedFrom('redis').filter((peer) => peer !== 'prometheus');
    expect(
      redisPeers.includes('app') && redisPeers.every((peer) => ['app', 'redis', 'backup'].includes(peer)),
      `NetworkPolicy: redis must admit only the app (its own pods and the backup job), admits ${redisPeers.join(', ') || 'nothing (no policy)'}`,
    );
  } else {
    expect(!manifests.some((m) => m.metadata.name === 'redis'), 'managed: no Redis may run in the cluster');
    expect(String(env.REDIS_URL).startsWith('rediss://'), 'managed: REDIS_URL must be rediss://');
  }
  if (overlay === 'catalog-memcached') problems.push(...catalogMemcachedProblems(manifests));
  else expect(!manifests.some((m) => m.metadata.name === 'memcached'), `${overlay}: no memcached (catalog-memcached only)`);
  // Secrets are referenced, never generated from committed files.
  expect(!manifests.some((m) => m.kind === 'Secret'), 'no Secret may be built from the repository');
  return resultOf(problems);
}

const MIN_KUBECTL_MINOR = 27;

/** kustomize v5 (kubectl >= 1.27) is what the overlays are written for; Debian 12's kubernetes-client is 1.20. */
async function kubectlVersion(): Promise<{ problem?: string; missing?: boolean }> {
  const install = 'install kubectl >= 1.27 from https://pkgs.k8s.io (Debian 12 ships 1.20 as kubernetes-client)';
  if (!findExecutable('kubectl')) return { problem: `kubectl not found: ${install}`, missing: true };
  try {
    const { code, output } = await run('kubectl', ['version', '--client', '-o', 'json'], { cwd: repoRoot, stdout: true });
    const minor = Number.parseInt(JSON.parse(output).clientVersion?.minor ?? '', 10);
    if (code !== 0 || !(minor >= MIN_KUBECTL_MINOR)) return { problem: `kubectl 1.${minor} found: ${install}` };
    return {};
  } catch (err) {
    return { problem: `kubectl not usable (${(err as Error).message}): ${install}` };
  }
}

/** Both checks for every overlay, named for check:infra's table. */
export async function checkK8s(): Promise<Record<string, CheckResult>> {
  const results: Record<string, CheckResult> = {};
  const version = await kubectlVersion();
  const name = 'k8s: kubectl >= 1.27 (kustomize v5) builds the overlays';
  // Without kubectl at all, outside CI: skipped, saying so (the overlays are checked wherever CI runs, which has it).
  if (version.missing && !process.env.CI) return { [name]: { ok: true, skipped: version.problem } };
  if (version.problem) return { [name]: resultOf([version.problem]) };
  results["k8s: docs/deployment.md's kubectl create secret commands make every Secret and key the overlays mount"] =
    await checkK8sSecretCommands();
  for (const overlay of overlays) {
    results[`k8s ${overlay}: kustomize build valid against the Kubernetes 1.27 OpenAPI schemas (kubernetes-models)`] =
      await checkK8sSchemas(overlay);
    results[
      `k8s ${overlay}: probes, shutdown timing, hardening, PDB/HPA on the app, pinned images, compose's env, NetworkPolicies${overlay === 'catalog-memcached' ? '; memcached ×3 by stable names, its TLS names, the catalogue secrets' : ''}`
    ] = await checkK8sShape(overlay);
  }
  return results;
}

/**
 * docs/deployment.md's `kubectl create secret` commands, run offline (--dry-run=client) on placeholder files, create every
 * Secret and key the overlays reference.
 */
export async function checkK8sSecretCommands(): Promise<CheckResult> {
  const doc = readFileSync(join(repoRoot, 'docs/deployment.md'), 'utf8');
  const start = doc.indexOf('\n## Kubernetes\n');
  if (start < 0) return resultOf(['docs/deployment.md has no "## Kubernetes" section']);
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end < 0 ? undefined : end);
  const commands = [...section.matchAll(/^kubectl -n redis-session create secret generic (?:.*\\\n)*.*$/gm)].map((m) =>
    m[0].replace(/\\\n\s*/g, ' ').replace(/\s+#.*$/, ''),
  );
  const dir = mkdtempSync(join(tmpdir(), 'k8s-secrets-'));
  try {
    // Every file the commands name, as make-secrets.sh would have made it.
    for (const command of commands)
      for (const [, file] of command.matchAll(/--from-file=(?:[\w.-]+=)?(\S+)/g)) {
        mkdirSync(join(dir, dirname(file!)), { recursive: true });
        writeFileSync(join(dir, file!), 'placeholder');
      }
    const created = new Map<string, Set<string>>();
    const problems: string[] = [];
    for (const command of commands) {
      const args = command.split(/\s+/).slice(1).concat(['--dry-run=client', '-o', 'json']);
      const { code, output } = await run('kubectl', args, { cwd: dir, stdout: true });
      if (code !== 0) {
        problems.push(`${command}: ${output}`);
        continue;
      }
      const secret = JSON.parse(output) as { metadata: { name: string }; data: Record<string, string> };
      created.set(secret.metadata.name, new Set(Object.keys(secret.data)));
    }
    for (const overlay of overlays) {
      for (const workload of (await buildOverlay(overlay)).filter((m) => m.spec?.template?.spec)) {
        for (const volume of workload.spec.template.spec.volumes ?? []) {
          const refs = [
            ...(volume.secret ? [{ name: volume.secret.secretName, items: volume.secret.items }] : []),
            ...(volume.projected?.sources ?? []).filter((s: any) => s.secret).map((s: any) => s.secret),
          ];
          for (const ref of refs) {
            const keys = created.get(ref.name);
            if (!keys)
              problems.push(
                `${overlay}: ${workload.kind} ${workload.metadata.name} needs Secret ${ref.name}, no command in docs/deployment.md creates it`,
              );
            for (const item of ref.items ?? [])
              if (keys && !keys.has(item.key)) problems.push(`${overlay}: Secret ${ref.name} lacks key ${item.key}`);
          }
        }
        // A container's variable from a Secret (the exporter sidecar's REDIS_PASSWORD).
        const containers = [
          ...(workload.spec.template.spec.containers ?? []),
          ...(workload.spec.template.spec.initContainers ?? []),
        ];
        for (const variable of containers.flatMap((c: any) => c.env ?? [])) {
          const ref = variable.valueFrom?.secretKeyRef;
          if (!ref) continue;
          const keys = created.get(ref.name);
          if (!keys)
            problems.push(
              `${overlay}: ${workload.metadata.name} needs Secret ${ref.name}, no command in docs/deployment.md creates it`,
            );
          else if (!keys.has(ref.key)) problems.push(`${overlay}: Secret ${ref.name} lacks key ${ref.key}`);
        }
      }
    }
    if (!created.get('redis-ca')?.has('ca.crt'))
      problems.push('Secret redis-ca must hold ca.crt (mounted at /run/redis-ca/ca.crt)');
    return resultOf(problems);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
