import { expect, test } from './fixtures.ts';
import { instancesOf, probeSession } from './support/session-probe.ts';

// Three devices of one user, told apart by their User-Agent (the page shows "browser on system").
const LAPTOP = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const PHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1';
const TABLET =
  'Mozilla/5.0 (iPad; CPU OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1';

test('from the phone, the user ends the laptop session, then every other one; only the phone stays logged in', async ({
  newDevice,
  user,
  stack,
  playwright,
  baseURL,
}) => {
  const [laptop, phone, tablet] = [
    await newDevice({ userAgent: LAPTOP }),
    await newDevice({ userAgent: PHONE }),
    await newDevice({ userAgent: TABLET }),
  ];
  for (const device of [laptop, phone, tablet]) await device.loginPage.loginAs(user);
  // Each cookie as it was at login, replayed on every instance once its session is ended (a browser would drop it).
  const [laptopCookie, tabletCookie] = await Promise.all(
    [laptop, tablet].map(async (device) => (await device.context.cookies()).find((cookie) => cookie.name === 'sid')!.value),
  );
  const running = await stack.runningInstances();
  const replay = async (cookie: string | undefined) => {
    const request = await playwright.request.newContext({ baseURL, extraHTTPHeaders: { Cookie: `sid=${cookie}` } });
    const answers = await probeSession(request, running.length * 2);
    await request.dispose();
    expect(instancesOf(answers), 'instances asked').toEqual(running);
    return answers.filter((answer) => answer.authenticated);
  };

  await phone.sessions.open();
  await expect(phone.sessions.current).toContainText('Safari on iPhone (this device)');
  await expect(phone.sessions.rowOf('Firefox on Windows')).toHaveCount(1);
  await expect(phone.sessions.rowOf('Safari on iPad')).toHaveCount(1);

  await phone.sessions.logOut('Firefox on Windows', user.password);
  await expect(phone.sessions.rowOf('Firefox on Windows')).toHaveCount(0);
  expect(await replay(laptopCookie), 'the laptop, on every instance').toEqual([]);
  // The laptop's next request, on whichever instance, finds no session: the login page, not an error.
  await laptop.sessions.open();
  await expect(laptop.page).toHaveURL(/\/login$/);
  await expect(laptop.loginPage.error).toHaveCount(0);

  await phone.sessions.logOutOthers(user.password);
  await expect(phone.sessions.rows).toHaveCount(1);
  await expect(phone.sessions.current).toContainText('Safari on iPhone');

  expect(await replay(tabletCookie), 'the tablet, on every instance').toEqual([]);
  await tablet.sessions.open();
  await expect(tablet.page).toHaveURL(/\/login$/);
  await phone.dashboard.open();
  await expect(phone.dashboard.signedInAs).toHaveText(user.username);
  await phone.sessions.open();
  await expect(phone.sessions.rows).toHaveCount(1);
});
