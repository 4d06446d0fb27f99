import { expect, test } from './fixtures.ts';

test('the dashboard shows times as people read them, which Redis node is the primary, the cache, and the way to the catalogue', async ({
  page,
  loggedIn: dashboard,
  stack,
}) => {
  // In the reader's own time zone, with how long ago it was; the exact moment on hover.
  await expect(dashboard.sessionStarted).toHaveText(/\((now|\d+ seconds? ago|1 minute ago)\)$/);
  await expect(dashboard.sessionStarted).toHaveAttribute('title', /\d{4}/);
  await expect(dashboard.sessionStarted).not.toHaveText(/T\d\d:\d\d/);

  // A label for the primary, never its address, named alike by every instance that answers.
  const mode = (await stack.status()).redis.mode;
  await expect(dashboard.redisPrimary).toHaveText(
    new RegExp(`^node-[\\w-]{6} \\(${mode}; (unchanged|changed once|changed \\d+ times) since app-\\d started\\)$`),
  );
  expect(await dashboard.redisPrimary.textContent()).not.toMatch(/127\.0\.0\.1|:\d{4,5}/);

  await dashboard.productsLink.click();
  await expect(page.getByRole('heading', { name: /Products/ })).toBeVisible();
  await page.goBack();
  await expect(dashboard.cacheRatio).toHaveText(/(\d+ ?% of \d+ product reads|no product read yet) on app-\d/);
});
