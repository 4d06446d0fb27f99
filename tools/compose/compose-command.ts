import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findExecutable } from '../lib/prereqs.ts';
import { run } from '../lib/spawn.ts';

/**
 * Compose v2: `docker compose` where the CLI has the plugin; otherwise a `docker-compose` v2 on PATH; otherwise (a
 * Debian 12 machine: bookworm packages only Compose 1.29, which rejects this file's top-level `name:` and `env_file`
 * entries with `path`) the static binary of Debian trixie's `docker-compose` package, fetched once into the state
 * dir with apt-get download and a private sources list (the host's apt sources stay as they are).
 */
export async function findCompose(stateDir: string): Promise<string[]> {
  if (await isComposeV2('docker', ['compose'])) return ['docker', 'compose'];
  const onPath = findExecutable('docker-compose');
  if (onPath && (await isComposeV2(onPath, []))) return [onPath];
  const fetched = join(stateDir, 'docker-compose');
  if (!existsSync(fetched)) await fetchFromTrixie(stateDir, fetched);
  if (!(await isComposeV2(fetched, []))) throw new Error(`${fetched} is not Compose v2; delete it and run again`);
  return [fetched];
}

async function isComposeV2(file: string, args: string[]) {
  const { code, output } = await run(file, [...args, 'version', '--short'], { stdout: true, timeoutMs: 10_000 });
  return code === 0 && /^v?2\./.test(output);
}

async function fetchFromTrixie(stateDir: string, destination: string) {
  if (!findExecutable('apt-get'))
    throw new Error('Compose v2 not found: install the docker compose plugin (https://docs.docker.com/compose/install/)');
  const mirror = process.env.DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const work = mkdtempSync(join(stateDir, 'apt-'));
  try {
    for (const dir of ['lists/partial', 'cache/archives/partial']) mkdirSync(join(work, dir), { recursive: true });
    writeFileSync(
      join(work, 'sources.list'),
      `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} trixie main\n`,
    );
    const options = [
      `Dir::Etc::SourceList=${join(work, 'sources.list')}`,
      'Dir::Etc::SourceParts=/nonexistent',
      `Dir::State::Lists=${join(work, 'lists')}`,
      `Dir::Cache=${join(work, 'cache')}`,
      // Mirrors frozen at a snapshot serve Release files past their Valid-Until.
      'Acquire::Check-Valid-Until=false',
      // Downloads into this private dir as root; apt's sandbox user could not write there.
      'APT::Sandbox::User=root',
    ].flatMap((option) => ['-o', option]);
    const step = async (args: string[]) => {
      const { code, output } = await run('apt-get', [...options, ...args], { cwd: work, timeoutMs: 180_000 });
      if (code !== 0) throw new Error(`apt-get ${args.join(' ')} (Debian trixie, for Compose v2) failed:\n${output}`);
    };
    await step(['update']);
    await step(['download', 'docker-compose/trixie']);
    const deb = readdirSync(work).find((name) => name.startsWith('docker-compose_') && name.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download docker-compose/trixie left no package');
    const { code, output } = await run('dpkg-deb', ['-x', join(work, deb), join(work, 'root')], { timeoutMs: 60_000 });
    if (code !== 0) throw new Error(`dpkg-deb -x ${deb}: ${output}`);
    copyFileSync(join(work, 'root/usr/libexec/docker/cli-plugins/docker-compose'), destination);
    chmodSync(destination, 0o755);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
