import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findExecutable } from '../lib/prereqs.ts';
import { run } from '../lib/spawn.ts';

/**
 * Every image the compose file needs, present locally: pulled where a registry answers; where none does, a stand-in
 * built from Debian's packages under the file's own tag (tools/compose/stand-ins/<name>/Dockerfile; each says which
 * official behaviour it reproduces). The compose file never changes to suit a stand-in. A stand-in carries a label
 * with the hash of its sources, and is rebuilt when they change; a pulled image is never touched.
 */

const STAND_INS_DIR = join(import.meta.dirname, 'stand-ins');
/** The stand-ins' base: a minimal Debian made with debootstrap (a `debian:bookworm` pull needs the registry too). */
export const BASE_IMAGE = 'stand-in-base/debian:bookworm';
const HASH_LABEL = 'org.redis-session-reference.stand-in';
/** Which stand-in stands for an image, by repository. */
const STAND_IN_FOR: Record<string, string> = {
  redis: 'redis',
  postgres: 'postgres',
  nginx: 'nginx',
  'prom/prometheus': 'prometheus',
  node: 'node',
  memcached: 'memcached',
  'oliver006/redis_exporter': 'redis-exporter',
};

type ComposeConfig = { services: Record<string, { image?: string; build?: { context: string; dockerfile?: string } }> };

/** The images a resolved compose config runs, and the FROM images of the Dockerfiles it builds. */
export function imagesOf(config: ComposeConfig): string[] {
  const images = new Set<string>();
  for (const service of Object.values(config.services)) {
    if (service.build) {
      for (const image of baseImagesOf(resolve(service.build.context, service.build.dockerfile ?? 'Dockerfile')))
        images.add(image);
    } else if (service.image) images.add(service.image);
  }
  return [...images].sort();
}

function baseImagesOf(dockerfile: string): string[] {
  const text = readFileSync(dockerfile, 'utf8');
  const args = new Map([...text.matchAll(/^ARG\s+(\w+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
  const stages = new Set([...text.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]!));
  return [...text.matchAll(/^FROM\s+(\S+)/gm)]
    .map((m) => m[1]!.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? ''))
    .filter((image) => !stages.has(image));
}

const repository = (image: string) =>
  image.slice(0, image.lastIndexOf(':') > image.lastIndexOf('/') ? image.lastIndexOf(':') : undefined);

async function labelOf(image: string): Promise<string | undefined | null> {
  const { code, output } = await run(
    'docker',
    ['image', 'inspect', '--format', `{{index .Config.Labels "${HASH_LABEL}"}}`, image],
    { stdout: true },
  );
  if (code !== 0) return null; // not here
  return output === '<no value>' || output === '' ? undefined : output;
}

/**
 * Pulls or builds what is missing; returns whether stand-ins are in use (then builds must use the legacy builder:
 * BuildKit fetches its Dockerfile frontend from the registry for the `# syntax=` line).
 */
export async function ensureImages(images: string[], say: (line: string) => void): Promise<{ standIns: string[] }> {
  const standIns: string[] = [];
  for (const image of images) {
    const label = await labelOf(image);
    const name = STAND_IN_FOR[repository(image)];
    if (label === undefined) continue; // a real image (pulled, or the user's own)
    if (label !== null) {
      standIns.push(image);
      if (name && label === (await standInHash(name))) continue;
      say(`${image}: its stand-in changed, rebuilding`);
    } else {
      const pulled = await run('docker', ['pull', '--quiet', image], { timeoutMs: 300_000 });
      if (pulled.code === 0) {
        say(`${image}: pulled`);
        continue;
      }
      if (!name)
        throw new Error(`${image}: cannot be pulled (${pulled.output.split('\n').at(-1)}) and there is no stand-in for it`);
      say(`${image}: cannot be pulled (no registry), building a stand-in from tools/compose/stand-ins/${name}`);
      standIns.push(image);
    }
    await buildStandIn(name!, image, say);
  }
  return { standIns };
}

/** The stand-in's sources: its folder, and for node the binary it copies. */
async function standInHash(name: string) {
  const hash = createHash('sha256');
  const dir = join(STAND_INS_DIR, name);
  for (const file of readdirSync(dir).sort()) hash.update(file).update(readFileSync(join(dir, file)));
  if (name === 'node') hash.update(process.version);
  return hash.digest('hex').slice(0, 16);
}

async function buildStandIn(name: string, image: string, say: (line: string) => void) {
  await ensureBaseImage(say);
  const context = mkdtempSync(join(tmpdir(), `stand-in-${name}-`));
  try {
    for (const file of readdirSync(join(STAND_INS_DIR, name))) copyFileSync(join(STAND_INS_DIR, name, file), join(context, file));
    if (name === 'node') await nodeContext(context, image);
    const started = performance.now();
    const built = await run(
      'docker',
      ['build', '--quiet', '--force-rm', '--tag', image, '--label', `${HASH_LABEL}=${await standInHash(name)}`, context],
      { timeoutMs: 600_000, stdout: true, env: { ...process.env, DOCKER_BUILDKIT: '0' } },
    );
    if (built.code !== 0) throw new Error(`building the stand-in ${image} failed:\n${built.output}`);
    say(`${image}: stand-in built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** The node stand-in's context: this Node binary (the version the image's tag names), npm, the CA bundle. */
async function nodeContext(context: string, image: string) {
  const wanted = /^node:(\d+\.\d+\.\d+)/.exec(image)?.[1];
  if (wanted && `v${wanted}` !== process.version)
    throw new Error(
      `${image}: the stand-in copies this Node (${process.version}); run through npm, which uses the project's Node ${wanted}`,
    );
  copyFileSync(process.execPath, join(context, 'node'));
  const packed = await run('npm', ['pack', 'npm@11', '--silent', '--pack-destination', context], {
    stdout: true,
    timeoutMs: 120_000,
  });
  const tarball = readdirSync(context).find((file) => /^npm-.*\.tgz$/.test(file));
  if (packed.code !== 0 || !tarball) throw new Error(`npm pack npm@11 failed:\n${packed.output}`);
  copyFileSync(join(context, tarball), join(context, 'npm.tgz'));
  rmSync(join(context, tarball));
  const bundle = '/etc/ssl/certs/ca-certificates.crt';
  if (existsSync(bundle)) copyFileSync(bundle, join(context, 'ca-certificates.crt'));
  else writeFileSync(join(context, 'ca-certificates.crt'), '');
}

async function ensureBaseImage(say: (line: string) => void) {
  if ((await labelOf(BASE_IMAGE)) !== null) return;
  const debootstrap = findExecutable('debootstrap');
  if (!debootstrap || process.getuid?.() !== 0)
    throw new Error(
      `the stand-ins need ${BASE_IMAGE}, made by debootstrap as root: install debootstrap (bash tools/setup.sh --test) and run as root`,
    );
  const mirror = process.env.DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
  const root = mkdtempSync(join('/var/tmp', 'stand-in-base-'));
  const started = performance.now();
  try {
    const made = await run(debootstrap, ['--variant=minbase', 'bookworm', root, mirror], { timeoutMs: 600_000 });
    if (made.code !== 0) throw new Error(`debootstrap bookworm failed:\n${made.output.split('\n').slice(-10).join('\n')}`);
    const archives = join(root, 'var/cache/apt/archives');
    for (const deb of readdirSync(archives).filter((file) => file.endsWith('.deb'))) rmSync(join(archives, deb));
    const imported = await run('sh', ['-c', `tar -C "$1" -c . | docker import - "$2"`, 'sh', root, BASE_IMAGE], {
      timeoutMs: 300_000,
    });
    if (imported.code !== 0) throw new Error(`docker import ${BASE_IMAGE} failed:\n${imported.output}`);
    say(`${BASE_IMAGE}: made with debootstrap in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
