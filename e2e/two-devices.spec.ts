import { expect, test } from './fixtures.ts';
import { instancesOf, probeSession } from './support/session-probe.ts';

test('logging out on one device leaves the same user logged in on another', async ({ newDevice, user, stack }) => {
  const laptop = await newDevice();
  const phone = await newDevice();
  await laptop.loginPage.loginAs(user);
  await phone.loginPage.loginAs(user);

  await laptop.dashboard.logout();

  const running = await stack.runningInstances();
  const phoneAnswers = await probeSession(phone.page.request, Math.max(9, running.length * 3));
  expect(
    phoneAnswers.filter((answer) => !answer.authenticated),
    'answers that forgot the phone',
  ).toEqual([]);
  expect(new Set(phoneAnswers.map((answer) => answer.username))).toEqual(new Set([user.username]));
  expect(instancesOf(phoneAnswers), 'instances asked').toEqual(running);
  for (let visit = 0; visit < running.length * 2; visit += 1) {
    await phone.dashboard.open();
    await expect(phone.dashboard.signedInAs).toHaveText(user.username);
  }

  const laptopAnswers = await probeSession(laptop.page.request, running.length * 2);
  expect(
    laptopAnswers.filter((answer) => answer.authenticated),
    'answers that still knew the laptop',
  ).toEqual([]);
});
