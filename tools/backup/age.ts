import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib/spawn.ts';

/** A failure the operator can act on: the CLIs print its message alone (no stack trace) and exit 1. */
export class BackupError extends Error {}

/** Debian's `age` (and `age-keygen`), found or named with the command that installs it. */
export function assertAgeInstalled() {
  try {
    execFileSync('age', ['--version'], { stdio: 'pipe' });
  } catch {
    throw new BackupError('age not found. Install it with:\n  sudo apt-get install -y age');
  }
}

/**
 * The backups' key pair in a secrets directory: the private key (`backup_age_key`, mode 0600) made by age-keygen when
 * missing, and its public key (`backup_age_recipient`), which is all a backup needs. In production only the public
 * key lives where backups are taken; the private key stays offline until a restore.
 */
export function ensureKeyPair(secretsDir: string) {
  const identityFile = join(secretsDir, 'backup_age_key');
  const recipientFile = join(secretsDir, 'backup_age_recipient');
  if (!existsSync(identityFile) && !existsSync(recipientFile)) {
    assertAgeInstalled();
    execFileSync('age-keygen', ['-o', identityFile], { stdio: 'pipe' });
  }
  if (existsSync(identityFile)) {
    chmodSync(identityFile, 0o600);
    if (!existsSync(recipientFile))
      writeFileSync(recipientFile, `${execFileSync('age-keygen', ['-y', identityFile], { encoding: 'utf8' }).trim()}\n`);
  }
  return { identityFile, recipientFile };
}

/** The public key(s) in a recipients file, one `age1…` per line. */
export function readRecipients(recipientFile: string): string[] {
  if (!existsSync(recipientFile)) throw new BackupError(`no recipient key: ${recipientFile} does not exist`);
  const keys = readFileSync(recipientFile, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  return parseRecipients(keys, recipientFile);
}

/** age public keys (`age1…`), checked: a typo fails here, not halfway through a backup. */
export function parseRecipients(keys: string[], where: string): string[] {
  if (keys.length === 0 || keys.some((key) => !/^age1[0-9a-z]{58}$/.test(key)))
    throw new BackupError(`${where}: expected age public keys (age1 and 58 characters), one a line`);
  return keys;
}

/** The public key of a private key file, to name it in errors. */
export async function recipientOf(identityFile: string): Promise<string | undefined> {
  const { code, output } = await run('age-keygen', ['-y', identityFile], { stdout: true });
  return code === 0 ? output.trim() : undefined;
}

export async function encryptFile(input: string, output: string, recipients: string[]) {
  const args = [...recipients.flatMap((key) => ['--recipient', key]), '--output', output, input];
  const { code, output: message } = await run('age', ['--encrypt', ...args], { timeoutMs: 600_000 });
  if (code !== 0) throw new BackupError(`age could not encrypt ${input}: ${message}`);
}

/** Decrypts with the private key; a wrong key or a damaged file is a BackupError saying which. */
export async function decryptFile(input: string, output: string, identityFile: string) {
  if (!existsSync(identityFile)) throw new BackupError(`no private key: ${identityFile} does not exist`);
  const { code, output: message } = await run('age', ['--decrypt', '--identity', identityFile, '--output', output, input], {
    timeoutMs: 600_000,
  });
  if (code === 0) return;
  if (/no identity matched/.test(message)) {
    const mine = await recipientOf(identityFile);
    throw new BackupError(
      `wrong key: ${input} was not encrypted to the key in ${identityFile}${mine ? ` (public key ${mine})` : ''}`,
    );
  }
  throw new BackupError(`${input} cannot be decrypted (truncated or tampered with): ${message.replace(/^age: /, '')}`);
}
