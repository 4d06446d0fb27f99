import { accessSync, constants, copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { repoRoot, shippedFiles } from '../lib/paths.ts';
import { run } from '../lib/spawn.ts';

/**
 * What `docker compose up` would trip over halfway, found before anything starts, each with its fix: secret files,
 * the optional `.env`, and the host ports the file publishes. A first run gets its secrets and the demo `.env` made,
 * as the manual steps in docs/deployment.md would.
 */

type ComposeFile = {
  secrets?: Record<string, { file?: string }>;
  services: Record<string, { ports?: string[]; profiles?: string[] }>;
};

const composeFile = (root = repoRoot) =>
  parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;

/** `root`: the folder holding docker-compose.yml (the repository; a copy in tests). */
export async function checkFiles(say: (line: string) => void, root = repoRoot): Promise<string[]> {
  const problems: string[] = [];
  const secretsDir = join(root, 'secrets');
  if (!existsSync(secretsDir)) {
    const made = await run('sh', [shippedFiles.makeSecrets, secretsDir], { stdout: true, timeoutMs: 60_000 });
    if (made.code !== 0) return [`infra/docker/make-secrets.sh failed:\n${made.output}`];
    say('secrets/: created by infra/docker/make-secrets.sh (git-ignored; keep it, the volumes are initialised with it)');
  }
  for (const [name, { file }] of Object.entries(composeFile(root).secrets ?? {})) {
    if (!file) continue;
    const path = join(root, file);
    const shown = relative(root, path);
    if (!existsSync(path))
      problems.push(`secret ${name}: ${shown} is missing. Run infra/docker/make-secrets.sh (it creates only missing files)`);
    else if (!readable(path))
      problems.push(
        `secret ${name}: ${shown} cannot be read. Fix its owner or mode (make-secrets.sh makes it 644 in a 700 folder)`,
      );
  }
  const env = join(root, '.env');
  if (!existsSync(env)) {
    copyFileSync(join(root, '.env.example'), env);
    say('.env: copied from .env.example (the demo accounts; edit it, or delete it for no demo accounts)');
  } else if (!readable(env)) {
    problems.push('.env cannot be read. It holds optional settings for the app: fix its mode, or remove it');
  }
  return problems;
}

function readable(path: string) {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.R_OK);
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Host addresses the file publishes for these profiles, e.g. 127.0.0.1:8080. */
export function publishedAddresses(profiles: string[]) {
  const addresses: { host: string; port: number; service: string }[] = [];
  for (const [service, { ports = [], profiles: only }] of Object.entries(composeFile().services)) {
    if (only && !only.some((profile) => profiles.includes(profile))) continue;
    for (const mapping of ports) {
      const [host, port] = mapping.split(':');
      if (host && port) addresses.push({ host, port: Number(port), service });
    }
  }
  return addresses;
}

/** Published ports held by something other than this project's own containers. */
export async function checkPorts(profiles: string[], project: string): Promise<string[]> {
  const ours = await run('docker', ['ps', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Ports}}'], {
    stdout: true,
  });
  return portProblems(publishedAddresses(profiles), ours.output);
}

/** `oursPublished`: what `docker ps --format {{.Ports}}` says this project's containers publish. */
export async function portProblems(addresses: { host: string; port: number; service: string }[], oursPublished = '') {
  const problems: string[] = [];
  for (const { host, port, service } of addresses) {
    if (oursPublished.includes(`${host}:${port}->`)) continue;
    if (!(await canListen(host, port)))
      problems.push(
        `${host}:${port} (for ${service}) is already in use: stop what listens there (ss -ltnp 'sport = :${port}' names it)`,
      );
  }
  return problems;
}

const canListen = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
