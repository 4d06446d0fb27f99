import {
  test as base,
  expect,
  type APIRequestContext,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from '@playwright/test';
import { createDashboardPage, type DashboardPage } from './pages/dashboard-page.ts';
import { createLoginPage, type Credentials, type LoginPage } from './pages/login-page.ts';
import { createSessionsPage, type SessionsPage } from './pages/sessions-page.ts';
import { demoUser } from './support/demo-users.ts';
import { startForeignSite } from './support/foreign-site.ts';
import { instancesOf, probeSession } from './support/session-probe.ts';
import { createStackControl, defaultControlTokenFile, defaultControlUrl, type StackControl } from './support/stack-control.ts';

export { expect };

/** One browser (a context: its own cookies) with the page objects on its page. */
export type Device = {
  context: BrowserContext;
  page: Page;
  loginPage: LoginPage;
  dashboard: DashboardPage;
  sessions: SessionsPage;
};

type Fixtures = {
  loginPage: LoginPage;
  dashboard: DashboardPage;
  /** A demo account that exists in the stack (DEMO_USERS' first, alice by default). */
  user: Credentials;
  /** The stack's control API. Whatever a story kills or pauses is brought back afterwards. */
  stack: StackControl;
  /**
   * `user` logged in through the form, on the dashboard: where a story that breaks the stack starts. It depends on
   * `stack`, so the login comes after the stack is whole again.
   */
  loggedIn: DashboardPage;
  /** Opens another browser, e.g. a second device of the same user (`userAgent` says which); closed after the test. */
  newDevice: (options?: BrowserContextOptions) => Promise<Device>;
  /** Serves `html` from another origin (127.0.0.1:<free port>); stopped after the test. */
  foreignSite: (html: string) => Promise<{ url: string }>;
};

/**
 * After a repair nginx may still hold a restarted instance as failed (passive health, fail_timeout=5s):
 * wait until a run of requests through it reaches every running instance, so the next story starts whole.
 */
async function waitUntilEveryInstanceServes(request: APIRequestContext, stack: StackControl) {
  const running = await stack.runningInstances();
  await expect(async () => {
    const answers = await probeSession(request, running.length * 2);
    expect(instancesOf(answers)).toEqual(running);
  }, 'every running instance serves through nginx').toPass({ timeout: 20_000 });
}

export const test = base.extend<Fixtures>({
  loginPage: async ({ page }, use) => use(createLoginPage(page)),
  dashboard: async ({ page }, use) => use(createDashboardPage(page)),
  user: async ({}, use) => use(demoUser(0)),

  stack: async ({ playwright, baseURL }, use, testInfo) => {
    const stack = createStackControl(
      process.env.E2E_CONTROL_URL ?? defaultControlUrl,
      process.env.E2E_CONTROL_TOKEN_FILE ?? defaultControlTokenFile,
    );
    // Cookie-less, so probing never touches the story's own session.
    const request = await playwright.request.newContext({ baseURL });
    const heal = async (when: string) => {
      const repaired = await stack.heal();
      if (repaired.length > 0) testInfo.annotations.push({ type: 'stack', description: `${when}: ${repaired.join(', ')}` });
      await waitUntilEveryInstanceServes(request, stack);
    };
    // A story interrupted earlier (or a stack left half-broken by hand) would fail this one for the wrong reason.
    await heal('before');
    await use(stack);
    await heal('after');
    await request.dispose();
  },

  loggedIn: async ({ stack: _whole, loginPage, dashboard, user }, use) => {
    await loginPage.loginAs(user);
    await use(dashboard);
  },

  newDevice: async ({ browser }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async (options) => {
      const context = await browser.newContext(options);
      contexts.push(context);
      const page = await context.newPage();
      return {
        context,
        page,
        loginPage: createLoginPage(page),
        dashboard: createDashboardPage(page),
        sessions: createSessionsPage(page),
      };
    });
    await Promise.all(contexts.map((context) => context.close()));
  },

  foreignSite: async ({}, use) => {
    const sites: Awaited<ReturnType<typeof startForeignSite>>[] = [];
    await use(async (html) => {
      const site = await startForeignSite(html);
      sites.push(site);
      return { url: site.url };
    });
    await Promise.all(sites.map((site) => site.close()));
  },
});
