import { randomUUID } from 'node:crypto';
import { expect, test } from './fixtures.ts';

// The stack's per-account limit (the app's LOGIN_MAX_FAILURES_PER_ACCOUNT; the stack passes the environment through).
const maxFailures = Number(process.env.LOGIN_MAX_FAILURES_PER_ACCOUNT ?? 5);

test('a wrong password gets a generic error, and the right one still works', async ({ loginPage, dashboard, user }) => {
  await loginPage.goto();
  const response = await loginPage.attempt({ username: user.username, password: `not-${user.password}` });
  expect(response.status()).toBe(401);
  await expect(loginPage.error).toHaveText('Wrong username or password.');
  await expect(dashboard.signedInAs).toHaveCount(0);

  // Logging in resets the account's failure counter, so repeated runs never lock the demo user out.
  await loginPage.loginAs(user);
  await expect(dashboard.signedInAs).toHaveText(user.username);
});

test('after too many failures an account is told to try again later, whichever instance it asks', async ({ loginPage }) => {
  // A fresh, non-existent account on every run: throttle counters live in Redis (and its AOF) for 15 minutes.
  // Unknown accounts are throttled exactly like real ones, so nothing here tells them apart.
  const attacker = { username: `e2e-${randomUUID().slice(0, 8)}`, password: 'guessing-1234' };
  await loginPage.goto();
  const servedBy = new Set<string>();
  for (let attempt = 1; attempt <= maxFailures; attempt += 1) {
    const response = await loginPage.attempt(attacker);
    expect(response.status(), `attempt ${attempt}`).toBe(401);
    await expect(loginPage.error).toHaveText('Wrong username or password.');
    servedBy.add(response.headers()['x-instance-id'] ?? 'missing');
  }
  // The failures were spread over instances; the count is shared in Redis, not kept per instance.
  expect(servedBy.size, `instances that counted a failure: ${[...servedBy].join(', ')}`).toBeGreaterThan(1);

  const blocked = await loginPage.attempt(attacker);
  expect(blocked.status()).toBe(429);
  expect(Number(blocked.headers()['retry-after']), 'Retry-After (seconds)').toBeGreaterThan(0);
  await expect(loginPage.error).toHaveText(/^Too many failed attempts\. Try again later/);
});
