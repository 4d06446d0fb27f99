import { expect, test } from './fixtures.ts';

test('a product page says how it was served, and an edit is what every instance serves next', async ({
  page,
  loginPage,
  user,
}) => {
  const id = 1 + Math.floor(Math.random() * 1000);
  // The first visit may load it from the database, and stores it in the background: once that has landed, a visit is
  // a hit whichever instance answers (on a busy machine the second visit can come first).
  await page.goto(`/products/${id}`);
  await expect(async () => {
    await page.goto(`/products/${id}`);
    await expect(page.getByTestId('cache-state')).toHaveText('X-Cache: hit', { timeout: 100 });
  }).toPass({ timeout: 10_000 });

  await loginPage.loginAs(user);
  await page.goto(`/products/${id}`);
  const name = `Edited ${Date.now()}`;
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Price').fill('12.34');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status')).toHaveText('Saved.');
  await expect(page.getByTestId('product-name')).toHaveText(name);
  // The page after the save is already served from the cache: the edit was written through, not just invalidated.
  await expect(page.getByTestId('cache-state')).toHaveText('X-Cache: hit');

  // Every instance serves the new value at once, from the cache.
  const served = new Map<string, string>();
  for (let i = 0; i < 9; i += 1) {
    const res = await page.request.get(`/api/products/${id}`);
    const body = (await res.json()) as { name: string; price: string };
    expect(body).toMatchObject({ name, price: '12.34' });
    served.set(res.headers()['x-instance-id'] ?? 'missing', res.headers()['x-cache'] ?? 'missing');
  }
  expect(
    [...served.values()].every((cache) => cache === 'hit'),
    JSON.stringify([...served]),
  ).toBe(true);
  expect(served.size, 'answers from several instances').toBeGreaterThan(1);
});
