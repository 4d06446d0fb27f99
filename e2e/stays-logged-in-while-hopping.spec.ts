import { expect, test } from './fixtures.ts';

test('a user who logged in stays logged in on every instance while the load balancer moves them around', async ({
  page,
  loginPage,
  dashboard,
  user,
}, testInfo) => {
  await loginPage.loginAs(user);
  await expect(dashboard.signedInAs).toHaveText(user.username);

  const servedBy: string[] = [];
  for (let visit = 0; visit < 15; visit += 1) {
    const { status, instance } = visit % 2 === 0 ? await dashboard.open() : await dashboard.reload();
    expect(status, `visit ${visit + 1}`).toBe(200);
    await expect(dashboard.signedInAs, `visit ${visit + 1} (${instance})`).toHaveText(user.username);
    // The page names the instance that rendered it; the header says the same.
    await expect(dashboard.pageInstance).toHaveText(instance);
    servedBy.push(instance);
  }
  expect(new Set(servedBy).size, `pages came from ${servedBy.join(', ')}`).toBeGreaterThanOrEqual(3);

  const chips = await dashboard.hop();
  expect(
    chips.filter((chip) => chip.state !== 'authenticated'),
    'chips that did not know the user',
  ).toEqual([]);
  expect(new Set(chips.map((chip) => chip.instance)).size, 'instances that answered the hop').toBeGreaterThanOrEqual(3);
  await testInfo.attach('dashboard-after-hop', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
});
