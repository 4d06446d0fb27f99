import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig, devices } from '@playwright/test';

// The whole stack (redis-server, app-1..3, nginx) in a real browser, booted by `npm start -- --control`.
// E2E_BASE_URL / E2E_CONTROL_URL point the suite at a stack you run yourself (nothing is started then).
const externalStack = process.env.E2E_BASE_URL;
const baseURL = externalStack ?? 'http://localhost:8080';

// Playwright cannot download browsers on our machines: use Debian's Chromium where it exists,
// Playwright's managed one everywhere else.
const systemChromium = '/usr/bin/chromium';
const launchOptions = existsSync(systemChromium)
  ? {
      executablePath: systemChromium,
      args: [
        // Runs as root in a container-like box without user namespaces.
        '--no-sandbox',
        '--disable-gpu',
        // Nothing but the stack under test on the wire: loopback only, no background fetches to retry or time out.
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    }
  : {};

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  outputDir: 'test-results',
  // Stories kill instances and Redis: one at a time, in order.
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  // Kill + restart of an instance or of Redis, with their readiness waits, fits well inside a minute.
  timeout: 60_000,
  reporter: [['list'], ['html', { outputFolder: 'report', open: 'never' }]],
  use: {
    baseURL,
    trace: 'on-first-retry',
    screenshot: 'on',
  },
  projects: [{ name: 'chromium', use: { ...devices['Desktop Chrome'], launchOptions } }],
  webServer: externalStack
    ? undefined
    : {
        command: 'npm start -- --control',
        cwd: resolve(import.meta.dirname, '..'),
        url: `${baseURL}/readyz`,
        reuseExistingServer: !process.env.CI,
        // Redis, three instances and nginx boot in a few seconds; a cold machine gets a minute, no more.
        timeout: 60_000,
        // The stack's request logs stay out of the test output; its start-up errors go to stderr, which is shown.
        stdout: 'ignore',
        // The stack stops front to back on SIGTERM (Redis flushes its AOF); SIGKILL only if that hangs.
        gracefulShutdown: { signal: 'SIGTERM', timeout: 30_000 },
      },
});
