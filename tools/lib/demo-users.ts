// The stack's demo accounts when DEMO_USERS is unset (the app's `name:password,...` format).
export const DEFAULT_DEMO_USERS = 'alice:alice-password-1,bob:bob-password-2';

export type Credentials = { username: string; password: string };

/** `name:password,...` as the app reads DEMO_USERS (names are case-insensitive there, so lower-cased here). */
export function parseUsers(pairs: string): Credentials[] {
  return pairs
    .split(',')
    .map((pair) => pair.trim())
    .filter(Boolean)
    .map((pair) => {
      const separator = pair.indexOf(':');
      return { username: pair.slice(0, separator).toLowerCase(), password: pair.slice(separator + 1) };
    });
}

/** `count` users named `<prefix>-1..count`; the DEMO_USERS value that creates them. */
export function makeUsers(prefix: string, count: number) {
  const users = Array.from({ length: count }, (_, i) => ({
    username: `${prefix}-${i + 1}`,
    password: `${prefix}-password-${i + 1}`,
  }));
  return { users, demoUsers: users.map(({ username, password }) => `${username}:${password}`).join(',') };
}
