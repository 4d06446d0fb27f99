import type { Page } from '@playwright/test';

/** GET /sessions: one row per session of the user, each other one with a password field and a "Log out" button. */
export function createSessionsPage(page: Page) {
  const rows = page.getByTestId('session-row');
  const rowOf = (device: string) => rows.filter({ hasText: device });

  return {
    rows,
    rowOf,
    current: page.locator('[data-testid="session-row"][data-current="true"]'),
    error: page.getByRole('alert'),
    open: () => page.goto('/sessions'),

    /** Ends the session of `device` (a row's label, e.g. "Firefox on Windows"), confirming with `password`. */
    async logOut(device: string, password: string) {
      const row = rowOf(device);
      await row.getByLabel('Password').fill(password);
      await row.getByRole('button', { name: 'Log out' }).click();
      await page.waitForLoadState();
    },

    async logOutOthers(password: string) {
      const form = page.locator('form.revoke-others');
      await form.getByLabel('Password').fill(password);
      await form.getByRole('button', { name: 'Log out all other sessions' }).click();
      await page.waitForLoadState();
    },
  };
}

export type SessionsPage = ReturnType<typeof createSessionsPage>;
