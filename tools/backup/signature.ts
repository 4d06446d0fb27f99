import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackupError } from './age.ts';
import { MANIFEST } from './manifest.ts';

/**
 * The manifest's signature: Ed25519 over manifest.json's bytes, by a signing key that lives where backups are taken
 * (the secrets), checked at restore with its public key. age alone proves nothing about who made a snapshot: anyone
 * can encrypt to the public recipient, so whoever can write the backup storage could plant a forged snapshot with
 * a manifest to match. The manifest names every file's SHA-256, so signing it signs the snapshot.
 *
 * node:crypto rather than `ssh-keygen -Y sign`: ssh-keygen refuses a private key owned by the user running it with a
 * mode other than 0600, which is what a compose secret (a bind mount of the host's 0644 file) is to the image's
 * uid-1000 user on a host whose user is uid 1000, and the Kubernetes job's read-only root has nowhere to copy it to.
 * The keys are PEM (PKCS #8 / SPKI), so OpenSSL checks a signature by hand too (docs/operations.md).
 */
export const SIGNATURE = `${MANIFEST}.sig`;
export const SIGNING_KEY = 'backup_signing_key';
export const SIGNING_PUBLIC_KEY = 'backup_signing_key.pub';

/** The local stack's signing key pair in its secrets directory, made when missing (private key 0600). */
export function ensureSigningKey(secretsDir: string) {
  const keyFile = join(secretsDir, SIGNING_KEY);
  const publicKeyFile = join(secretsDir, SIGNING_PUBLIC_KEY);
  if (!existsSync(keyFile)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  chmodSync(keyFile, 0o600);
  if (!existsSync(publicKeyFile))
    writeFileSync(publicKeyFile, createPublicKey(readFileSync(keyFile)).export({ type: 'spki', format: 'pem' }));
  return { keyFile, publicKeyFile };
}

/** The private signing key in `keyFile`, read before a backup starts: a missing or wrong key fails it at once. */
export function loadSigningKey(keyFile: string): KeyObject {
  if (!existsSync(keyFile)) throw new BackupError(`no signing key: ${keyFile} does not exist`);
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(keyFile));
  } catch (err) {
    throw new BackupError(`${keyFile} is not a PEM private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new BackupError(`${keyFile} is not an Ed25519 key`);
  return key;
}

/** Writes `<snapshotDir>/manifest.json.sig`: the raw 64-byte Ed25519 signature of manifest.json. */
export function signManifest(snapshotDir: string, key: KeyObject) {
  writeFileSync(join(snapshotDir, SIGNATURE), sign(null, readFileSync(join(snapshotDir, MANIFEST)), key), { mode: 0o600 });
}

/** Throws a one-line BackupError unless the manifest carries a signature that `publicKeyFile`'s key verifies. */
export function verifyManifestSignature(snapshotDir: string, publicKeyFile: string) {
  if (!existsSync(publicKeyFile))
    throw new BackupError(`no signing public key: ${publicKeyFile} does not exist (--signer FILE names another)`);
  const signature = join(snapshotDir, SIGNATURE);
  if (!existsSync(signature))
    throw new BackupError(`refused: ${join(snapshotDir, MANIFEST)} is not signed (${SIGNATURE} is missing)`);
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(publicKeyFile));
  } catch (err) {
    throw new BackupError(`${publicKeyFile} is not a PEM public key: ${(err as Error).message}`);
  }
  let valid = false;
  try {
    valid =
      key.asymmetricKeyType === 'ed25519' &&
      verify(null, readFileSync(join(snapshotDir, MANIFEST)), key, readFileSync(signature));
  } catch {
    // A signature of the wrong length: not valid.
  }
  if (!valid)
    throw new BackupError(
      `refused: ${join(snapshotDir, MANIFEST)} is not signed by the backup signing key ${publicKeyFile} (forged or tampered with)`,
    );
}
