import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const argon2Async = promisify(argon2);

// OWASP Password Storage Cheat Sheet, Argon2id minimum: 19 MiB memory, 2 passes, 1 lane.
const ARGON2 = { memory: 19_456, passes: 2, parallelism: 1, tagLength: 32 } as const;

async function hash(password: string, nonce: Buffer): Promise<Buffer> {
  return argon2Async('argon2id', { ...ARGON2, message: password, nonce });
}

export type UserDirectory = Awaited<ReturnType<typeof createUserDirectory>>;

/**
 * The demo accounts, hashed with Argon2id at boot so plaintext passwords are dropped right away.
 * An unknown user is checked against a decoy hash: it costs the same as a wrong password.
 */
export async function createUserDirectory(users: readonly { username: string; password: string }[]) {
  const accounts = new Map<string, { nonce: Buffer; hash: Buffer }>();
  for (const { username, password } of users) {
    const nonce = randomBytes(16);
    accounts.set(username, { nonce, hash: await hash(password, nonce) });
  }
  const decoyNonce = randomBytes(16);
  const decoy = { nonce: decoyNonce, hash: await hash(randomBytes(16).toString('hex'), decoyNonce) };

  return {
    /** The user's canonical name if the password is right, otherwise null. */
    async verify(username: string, password: string): Promise<string | null> {
      const name = username.trim().toLowerCase();
      const account = accounts.get(name);
      const candidate = await hash(password, (account ?? decoy).nonce);
      const matches = timingSafeEqual(candidate, (account ?? decoy).hash);
      return account && matches ? name : null;
    },
    usernames: [...accounts.keys()],
  };
}
