import { expect, test } from './fixtures.ts';
import { defaultControlUrl } from './support/stack-control.ts';

test("a page on another site cannot restart an instance with settings of its choosing through the stack's control API", async ({
  page,
  stack,
  foreignSite,
}) => {
  const before = (await stack.status()).instances.map((instance) => instance.pid);
  const controlUrl = process.env.E2E_CONTROL_URL ?? defaultControlUrl;
  // What any web page can send to a loopback port: a "simple" cross-site POST, no preflight, its answer unreadable.
  const evil = await foreignSite(`<!doctype html><title>Loading</title><script>
    fetch(${JSON.stringify(new URL('/instances/1/restart', controlUrl).href)}, {
      method: 'POST',
      mode: 'no-cors',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ env: { DEMO_USERS: 'alice:chosen-by-the-attacker', NODE_OPTIONS: '--import=data:text/javascript,' } }),
    }).then(() => (document.title = 'sent'), () => (document.title = 'failed'));
  </script>`);
  await page.goto(evil.url);
  // The fetch settles once the control API has answered (a restart would have been awaited before the answer).
  await expect(page).toHaveTitle(/sent|failed/);
  expect(
    (await stack.status()).instances.map((instance) => instance.pid),
    'instance pids',
  ).toEqual(before);
});
