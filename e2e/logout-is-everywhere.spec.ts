import { expect, test } from './fixtures.ts';
import { instancesOf, probeSession } from './support/session-probe.ts';

test('after logging out, no instance knows the user any more and Back does not bring the dashboard back', async ({
  page,
  playwright,
  baseURL,
  loggedIn: dashboard,
  stack,
}) => {
  const sessionCookie = (await page.context().cookies()).find((cookie) => cookie.name === 'sid');
  expect(sessionCookie, 'the session cookie set at login').toBeDefined();

  await dashboard.logout();
  await expect(dashboard.signedInAs).toHaveCount(0);

  const running = await stack.runningInstances();
  const answers = await probeSession(page.request, Math.max(9, running.length * 3));
  expect(
    answers.filter((answer) => answer.authenticated),
    'answers that still knew the user',
  ).toEqual([]);
  expect(instancesOf(answers), 'instances asked').toEqual(running);

  // The session is gone from Redis, not only the cookie from this browser: replaying the old cookie gets nowhere.
  const replay = await playwright.request.newContext({ baseURL, extraHTTPHeaders: { Cookie: `sid=${sessionCookie?.value}` } });
  const replayed = await probeSession(replay, running.length * 2);
  await replay.dispose();
  expect(
    replayed.filter((answer) => answer.authenticated),
    'answers to the replayed cookie that knew the user',
  ).toEqual([]);

  // Dashboards are no-store: Back asks the server again instead of showing the logged-in page from a cache.
  await page.goBack();
  await expect(dashboard.notSignedIn).toBeVisible();
  await expect(dashboard.signedInAs).toHaveCount(0);
});
