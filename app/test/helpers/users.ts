/** The demo accounts every test logs in with; DEMO_USERS is the same pair in the app's variable format. */
export const ALICE = { username: 'alice', password: 'alice-password-1' };
export const BOB = { username: 'bob', password: 'bob-password-2' };
export const DEMO_USERS = [ALICE, BOB].map(({ username, password }) => `${username}:${password}`).join(',');
