import { expect, test } from './fixtures.ts';
import { probeSession } from './support/session-probe.ts';

test('a logout form posted from another site is refused and the user stays logged in', async ({
  page,
  baseURL,
  loginPage,
  dashboard,
  user,
  foreignSite,
}) => {
  await loginPage.loginAs(user);

  // Another origin (127.0.0.1:<port>, not localhost:8080) with a form aimed at our logout. No token: it cannot read one.
  const evil = await foreignSite(`<!doctype html><title>You won</title>
    <form method="post" action="${new URL('/logout', baseURL)}"><input type="hidden" name="_csrf" value="forged"><button>Claim your prize</button></form>`);
  await page.goto(evil.url);
  const [refused] = await Promise.all([
    page.waitForResponse((res) => new URL(res.url()).pathname === '/logout'),
    page.getByRole('button', { name: 'Claim your prize' }).click(),
  ]);
  expect(refused.status()).toBe(403);
  await expect(page.getByRole('alert')).toContainText('did not come from this site');

  await dashboard.open();
  await expect(dashboard.signedInAs).toHaveText(user.username);
  const answers = await probeSession(page.request, 6);
  expect(
    answers.filter((answer) => !answer.authenticated),
    'answers that forgot the user',
  ).toEqual([]);
});
