import { DEFAULT_DEMO_USERS, parseUsers } from '../../../tools/lib/demo-users.ts';

/** The demo accounts every test logs in with; DEMO_USERS is the same pair in the app's variable format. */
export const [ALICE, BOB] = parseUsers(DEFAULT_DEMO_USERS) as [
  { username: string; password: string },
  { username: string; password: string },
];
export const DEMO_USERS = DEFAULT_DEMO_USERS;
