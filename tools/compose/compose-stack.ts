import { join } from 'node:path';
import { repoRoot, shippedFiles } from '../lib/paths.ts';
import { run } from '../lib/spawn.ts';
import { findCompose } from './compose-command.ts';
import { engineAnswers, startEngine, stopEngine } from './engine.ts';
import { ensureImages, imagesOf } from './images.ts';
import { checkFiles, checkPorts, publishedAddresses } from './preflight.ts';

/** `name:` in docker-compose.yml: the prefix of every container, network and volume of the stack. */
export const PROJECT = 'redis-session-reference';
/** Where compose:up keeps what it fetched (Compose v2) and what it started (dockerd's pid and log); git-ignored. */
export const STATE_DIR = join(repoRoot, '.run/compose');
/** Every profile the file has: compose:down takes them all down. */
export const ALL_PROFILES = ['cluster', 'memcached', 'backups'];
/** The profiles test:compose brings up: all of them. */
export const TESTED_PROFILES = ALL_PROFILES;
/**
 * test:compose's own backup key pair (age): the backups profile encrypts to its public key (BACKUP_AGE_RECIPIENTS,
 * which a deployment sets in .env), and compose.e2e.ts decrypts a snapshot with its private key as a restore would.
 */
export const BACKUP_KEYS_DIR = join(STATE_DIR, 'backup-keys');

export type Say = (line: string) => void;

/** The compose command for these profiles, with the environment its builds need. */
export async function composeCommand(profiles: string[], env: NodeJS.ProcessEnv = {}) {
  const [file, ...base] = await findCompose(STATE_DIR);
  const args = [
    ...base,
    '--project-directory',
    repoRoot,
    '-f',
    shippedFiles.composeFile,
    ...profiles.flatMap((p) => ['--profile', p]),
  ];
  const compose = (more: string[], timeoutMs = 60_000) =>
    run(file!, [...args, ...more], { stdout: true, cwd: repoRoot, timeoutMs, env: { ...process.env, ...env } });
  /** The command line itself, for a shell that redirects a file into it (what the docs show as `docker compose …`). */
  return Object.assign(compose, { argv: [file!, ...args] });
}

/**
 * `docker compose up -d --build --wait`, after preparing what this machine lacks (engine, Compose v2, images) and
 * checking what would fail halfway. On failure nothing is left running: the stack is taken down (volumes kept) and a
 * daemon this call started is stopped.
 */
export async function composeUp({ profiles = [], fresh = false, say }: { profiles?: string[]; fresh?: boolean; say: Say }) {
  const started = performance.now();
  const fail = (problems: string[]) =>
    new Error(`compose:up: nothing was started.\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const fileProblems = await checkFiles(say);
  if (fileProblems.length > 0) throw fail(fileProblems);

  const engineStarted = await startEngine(STATE_DIR);
  if (engineStarted) say('dockerd: started (compose:down stops it)');
  const giveUp = async (error: Error) => {
    if (engineStarted) await stopEngine(STATE_DIR);
    return error;
  };
  const portProblems = await checkPorts(profiles, PROJECT);
  if (portProblems.length > 0) throw await giveUp(fail(portProblems));

  let compose = await composeCommand(profiles);
  const config = await compose(['config', '--format', 'json']);
  if (config.code !== 0) throw await giveUp(fail([`docker-compose.yml: ${config.output}`]));
  const { standIns } = await ensureImages(imagesOf(JSON.parse(config.output)), say);
  if (standIns.length > 0) {
    say(`stand-ins in use (no registry here): ${standIns.join(', ')}`);
    // BuildKit fetches the Dockerfile's `# syntax=` frontend from the registry; the classic builder ignores it.
    compose = await composeCommand(profiles, { DOCKER_BUILDKIT: '0' });
  }

  if (fresh) {
    // From empty volumes: a run that failed earlier may have left a half-formed cluster or a volume of old secrets.
    const down = await (await composeCommand(ALL_PROFILES))(['down', '--volumes', '--remove-orphans'], 180_000);
    if (down.code !== 0) throw await giveUp(new Error(`compose down --volumes (to start fresh) failed:\n${down.output}`));
  }
  say(`starting the stack${profiles.length ? ` with profile ${profiles.join(', ')}` : ''} (compose up --wait)`);
  const up = await compose(['up', '--detach', '--build', '--wait', '--wait-timeout', '300', '--quiet-pull'], 420_000);
  if (up.code !== 0) {
    const report = await unhealthyReport(compose);
    await compose(['down', '--remove-orphans'], 120_000);
    // The engine stays (if compose:up started it, compose:down stops it): without it the volumes could not be removed.
    throw new Error(
      `compose:up: the stack did not come up, and was taken down (volumes kept: npm run compose:down removes them).\n${report || up.output}`,
    );
  }
  const urls = publishedAddresses(profiles).map(({ host, port, service }) => `${service} http://${host}:${port}`);
  say(`up in ${((performance.now() - started) / 1000).toFixed(0)} s: ${urls.join(', ')}`);
}

/** The services that are neither healthy nor a one-shot that exited 0, with the end of their logs. */
async function unhealthyReport(compose: Awaited<ReturnType<typeof composeCommand>>) {
  const { output } = await compose(['ps', '--all', '--format', 'json']);
  const lines: string[] = [];
  for (const container of parsePs(output)) {
    if (container.Health === 'healthy' || (container.State === 'exited' && container.ExitCode === 0)) continue;
    const logs = await compose(['logs', '--no-color', '--tail', '20', container.Service]);
    lines.push(`${container.Name}: ${container.Status}`, logs.output, '');
  }
  return lines.join('\n');
}

export type PsEntry = { Name: string; Service: string; State: string; Health: string; ExitCode: number; Status: string };

/** `compose ps --format json` prints one JSON object per line (Compose >= 2.21) or one array (older). */
export function parsePs(output: string): PsEntry[] {
  const text = output.trim();
  if (!text) return [];
  if (text.startsWith('[')) return JSON.parse(text) as PsEntry[];
  return text.split('\n').map((line) => JSON.parse(line) as PsEntry);
}

/** `docker compose down -v` for every profile, then the daemon compose:up started, if it did. Leaves nothing of ours. */
export async function composeDown({ say }: { say: Say }) {
  if (await engineAnswers()) {
    const compose = await composeCommand(ALL_PROFILES);
    const down = await compose(['down', '--volumes', '--remove-orphans', '--timeout', '20'], 180_000);
    if (down.code !== 0) throw new Error(`compose down failed:\n${down.output}`);
    const left = await leftovers();
    if (left.length > 0) throw new Error(`compose down left ${left.join(', ')}`);
    say('stack down: no container, network or volume of it left');
  }
  if (await stopEngine(STATE_DIR)) say('dockerd: stopped (it was started by compose:up); host network settings restored');
}

async function leftovers() {
  const label = `label=com.docker.compose.project=${PROJECT}`;
  const kinds = [
    ['containers', ['ps', '--all', '--quiet', '--filter', label]],
    ['networks', ['network', 'ls', '--quiet', '--filter', label]],
    ['volumes', ['volume', 'ls', '--quiet', '--filter', label]],
  ] as const;
  const left: string[] = [];
  for (const [kind, args] of kinds) {
    const { output } = await run('docker', [...args], { stdout: true });
    const count = output.split('\n').filter(Boolean).length;
    if (count > 0) left.push(`${count} ${kind}`);
  }
  return left;
}
