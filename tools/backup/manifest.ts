import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BackupError } from './age.ts';

export const MANIFEST = 'manifest.json';

/** One encrypted file of a snapshot, as the manifest records it. */
export type ManifestFile = { file: string; bytes: number; sha256: string };

export type Manifest = {
  format: 1;
  createdAt: string;
  manual: boolean;
  /** The public keys the files are encrypted to. */
  recipients: string[];
  redis: ManifestFile & { version: string; keys: number; source: string };
  /** Absent when the deployment has no catalogue. */
  postgres?: ManifestFile & { version: string; database: string };
  /**
   * What a restore into a new deployment needs besides the data: ACL users are not in an RDB, nor roles in a
   * database dump. `acl` is the source's rendered ACL, encrypted (it holds password hashes); a restore into a
   * stack keeps that stack's own secrets and ACL and uses it only to rebuild a lost deployment.
   */
  config: ManifestFile & { contents: string[] };
  notes: string[];
  seconds: number;
};

export async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

export async function describeFile(dir: string, file: string): Promise<ManifestFile> {
  const path = join(dir, file);
  return { file, bytes: statSync(path).size, sha256: await sha256Of(path) };
}

/** The manifest of a snapshot directory, with its shape checked; a clear error when it is missing or damaged. */
export function readManifest(snapshotDir: string): Manifest {
  const path = join(snapshotDir, MANIFEST);
  if (!existsSync(snapshotDir)) throw new BackupError(`no such snapshot: ${snapshotDir}`);
  if (!existsSync(path)) throw new BackupError(`not a snapshot: ${path} is missing`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch (err) {
    throw new BackupError(`${path} is not valid JSON (truncated or tampered with): ${(err as Error).message}`);
  }
  const fileOk = (entry: ManifestFile | undefined) =>
    entry &&
    typeof entry.file === 'string' &&
    /^[\w.-]+$/.test(entry.file) &&
    Number.isInteger(entry.bytes) &&
    /^[0-9a-f]{64}$/.test(entry.sha256);
  if (
    manifest?.format !== 1 ||
    !fileOk(manifest.redis) ||
    (manifest.postgres !== undefined && !fileOk(manifest.postgres)) ||
    !fileOk(manifest.config)
  )
    throw new BackupError(`${path} is not a manifest this tool wrote (format 1 with redis, config and postgres files)`);
  return manifest;
}

/** Every file the manifest names is there, of its size and SHA-256; throws naming the first that is not. */
export async function verifyFiles(snapshotDir: string, manifest: Manifest) {
  for (const entry of snapshotFiles(manifest)) {
    const path = join(snapshotDir, entry.file);
    if (!existsSync(path)) throw new BackupError(`${path} is missing`);
    const bytes = statSync(path).size;
    if (bytes !== entry.bytes)
      throw new BackupError(`${path} is ${bytes} bytes, the manifest says ${entry.bytes} (truncated or tampered with)`);
    const sha256 = await sha256Of(path);
    if (sha256 !== entry.sha256)
      throw new BackupError(`${path} does not match the manifest's SHA-256 (tampered with): ${sha256} ≠ ${entry.sha256}`);
  }
}

/** The encrypted files of a snapshot. */
export const snapshotFiles = (manifest: Manifest): ManifestFile[] => [
  manifest.redis,
  ...(manifest.postgres ? [manifest.postgres] : []),
  manifest.config,
];
