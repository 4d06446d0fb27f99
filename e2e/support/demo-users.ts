import { DEFAULT_DEMO_USERS, parseUsers, type Credentials } from '../../tools/lib/demo-users.ts';

// The stack's demo accounts: DEMO_USERS as the stack reads it, or the stack's defaults.
const users = parseUsers(process.env.DEMO_USERS || DEFAULT_DEMO_USERS);

export function demoUser(index = 0): Credentials {
  const user = users[index];
  if (!user) throw new Error(`DEMO_USERS has no account number ${index + 1}`);
  return user;
}
