import type { Credentials } from '../pages/login-page.ts';

// The stack's demo accounts: DEMO_USERS (name:password,...) as the stack reads it, or the stack's defaults.
const pairs = (process.env.DEMO_USERS || 'alice:alice-password-1,bob:bob-password-2').split(',');

export function demoUser(index = 0): Credentials {
  const pair = pairs[index]?.trim();
  if (!pair) throw new Error(`DEMO_USERS has no account number ${index + 1}`);
  const separator = pair.indexOf(':');
  return { username: pair.slice(0, separator).toLowerCase(), password: pair.slice(separator + 1) };
}
