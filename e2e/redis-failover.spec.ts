import { expect, test } from './fixtures.ts';
import { probeSession } from './support/session-probe.ts';

test('when the Redis primary dies, a replica takes over and the user stays logged in with the same session', async ({
  page,
  loggedIn: dashboard,
  user,
  stack,
}) => {
  test.skip((await stack.status()).redis.mode !== 'sentinel', 'needs the Sentinel topology (npm start -- --redis sentinel)');
  const startedAt = await dashboard.sessionStarted.getAttribute('datetime');
  await expect(dashboard.redisPrimary).toHaveAttribute('data-primary', /^node-/);
  const primaryBefore = await dashboard.redisPrimary.getAttribute('data-primary');
  const running = await stack.runningInstances();

  const killed = await stack.killRedisPrimary();
  // While the Sentinels fail over, the app says "try again" (503) or already knows the user; never "logged out".
  const during = await probeSession(page.request, running.length);
  expect(
    during.filter((answer) => answer.status !== 503 && !answer.authenticated),
    'answers during the failover',
  ).toEqual([]);

  await expect
    .poll(async () => (await probeSession(page.request, running.length * 2)).filter((answer) => !answer.authenticated).length, {
      message: 'answers that did not know the user after the failover',
      timeout: 15_000,
    })
    .toBe(0);
  const { nodes } = (await stack.status()).redis;
  expect(nodes.find((node) => node.role === 'primary')?.name, 'a replica was promoted').not.toBe(killed.name);

  await dashboard.open();
  await expect(dashboard.signedInAs).toHaveText(user.username);
  // The live panel names another node now (each instance learnt it from the Sentinels).
  await expect(dashboard.redisPrimary).toHaveAttribute('data-primary', /^node-/);
  expect(await dashboard.redisPrimary.getAttribute('data-primary'), 'the panel names the new primary').not.toBe(primaryBefore);
  await expect(dashboard.sessionStarted, 'the session from before the failover, not a new one').toHaveAttribute(
    'datetime',
    startedAt ?? '',
  );
});
