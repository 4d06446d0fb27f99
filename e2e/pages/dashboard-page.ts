import type { Page, Response } from '@playwright/test';

export type Chip = { instance: string; state: string };

function servedResponse(response: Response | null) {
  if (!response) throw new Error('the navigation did not produce a response');
  return { status: response.status(), instance: response.headers()['x-instance-id'] ?? 'missing' };
}

/** GET /: the dashboard when logged in, "You are not signed in" otherwise. */
export function createDashboardPage(page: Page) {
  const chips = page.locator('ol#chips > li.chip');
  const hopButton = page.getByRole('button', { name: 'Hop' });

  return {
    signedInAs: page.getByTestId('username'),
    notSignedIn: page.getByRole('heading', { name: 'You are not signed in' }),
    pageInstance: page.getByTestId('page-instance'),
    sessionStarted: page.getByTestId('session-started'),
    /** The live panel: the Redis primary's label (`data-primary`) and the cache's hit ratio, refreshed every 2 s. */
    redisPrimary: page.getByTestId('redis-primary'),
    cacheRatio: page.getByTestId('cache-ratio'),
    productsLink: page.getByRole('link', { name: 'Products' }),

    /** Opens the home page; resolves with the instance that served it (X-Instance-Id) and the HTTP status. */
    open: async () => servedResponse(await page.goto('/')),
    /** Reloads whatever page is shown, like the browser's reload button; same answer as open(). */
    reload: async () => servedResponse(await page.reload()),

    /** The instance named on the page itself (which one rendered it). */
    async servedBy(): Promise<string> {
      return (await page.getByTestId('page-instance').textContent())?.trim() ?? '';
    },

    /** Presses "Hop" and waits for the burst to finish; one chip per /api/session response. */
    async hop(): Promise<Chip[]> {
      const burst = Number(await hopButton.getAttribute('data-burst'));
      await hopButton.click();
      await chips.nth(burst - 1).waitFor();
      const all = await chips.all();
      return Promise.all(
        all.map(async (chip) => ({
          instance: (await chip.getAttribute('data-instance')) ?? '',
          state: (await chip.getAttribute('data-state')) ?? '',
        })),
      );
    },

    async logout() {
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('heading', { name: 'You are not signed in' }).waitFor();
    },
  };
}

export type DashboardPage = ReturnType<typeof createDashboardPage>;
