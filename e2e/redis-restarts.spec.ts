import { expect, test } from './fixtures.ts';
import { probeSession } from './support/session-probe.ts';

test('after Redis restarts from its append-only file, the user is still logged in with the same session', async ({
  page,
  loggedIn: dashboard,
  user,
  stack,
}) => {
  const startedAt = await dashboard.sessionStarted.getAttribute('datetime');
  const running = await stack.runningInstances();

  await stack.killRedis();
  // While Redis is away the app says "try again" (503); it never answers as if the user had logged out.
  const duringOutage = await probeSession(page.request, running.length);
  expect(
    duringOutage.filter((answer) => answer.status !== 503),
    'answers during the outage',
  ).toEqual([]);

  await stack.startRedis();
  // The instances reconnect on their own, with backoff: poll until every one of them knows the user again.
  await expect
    .poll(async () => (await probeSession(page.request, running.length * 2)).filter((answer) => !answer.authenticated).length, {
      message: 'answers that did not know the user after Redis came back',
      timeout: 20_000,
    })
    .toBe(0);

  await dashboard.open();
  await expect(dashboard.signedInAs).toHaveText(user.username);
  await expect(dashboard.sessionStarted, 'the session from before the restart, not a new one').toHaveAttribute(
    'datetime',
    startedAt ?? '',
  );
});
