import type { Page, Response } from '@playwright/test';
import type { Credentials } from '../../tools/lib/demo-users.ts';

export type { Credentials };

/** GET /login and its form: labelled Username / Password fields, a "Log in" button, a role="alert" error. */
export function createLoginPage(page: Page) {
  const username = page.getByLabel('Username');
  const password = page.getByLabel('Password');
  const submit = page.getByRole('button', { name: 'Log in' });

  /** Fills and submits the form; resolves with the response to the POST (its status tells 401 from 429). */
  async function attempt({ username: name, password: secret }: Credentials): Promise<Response> {
    await username.fill(name);
    await password.fill(secret);
    const [response] = await Promise.all([
      page.waitForResponse((res) => res.request().method() === 'POST' && new URL(res.url()).pathname === '/login'),
      submit.click(),
    ]);
    await page.waitForLoadState();
    return response;
  }

  return {
    error: page.getByRole('alert'),
    async goto() {
      await page.goto('/login');
    },
    attempt,
    /** Logs in through the form and waits for the dashboard. */
    async loginAs(user: Credentials) {
      await page.goto('/login');
      const response = await attempt(user);
      // 303 to the dashboard; anything else is a broken login, reported now rather than as a timeout later.
      if (response.status() !== 303) {
        const shown = await page
          .getByRole('alert')
          .textContent()
          .catch(() => null);
        throw new Error(`logging in as ${user.username} got HTTP ${response.status()}: ${shown ?? '(no alert)'}`);
      }
      await page.getByTestId('username').waitFor();
    },
  };
}

export type LoginPage = ReturnType<typeof createLoginPage>;
