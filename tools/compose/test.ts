import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureKeyPair } from '../backup/age.ts';
import { onStopSignal } from '../lib/on-stop-signal.ts';
import { repoRoot } from '../lib/paths.ts';
import { BACKUP_KEYS_DIR, TESTED_PROFILES, composeDown, composeUp } from './compose-stack.ts';

// npm run test:compose: compose:up with every profile, the compose checks (compose.e2e.ts), the Playwright stories
// that need no control API against it, then compose:down, whatever happened.

const say = (line: string) => console.log(`[test:compose] ${line}`);
const started = performance.now();
const seconds = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

/** Runs a command with the console as its output; resolves with its exit code. */
const shown = (file: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  new Promise<number>((resolve) => {
    const child = spawn(file, args, { cwd: repoRoot, stdio: 'inherit', env: { ...process.env, ...env } });
    child.once('error', () => resolve(1));
    child.once('exit', (code) => resolve(code ?? 1));
  });

// The stories whose steps go through nginx only (the others kill and restart parts through the local stack's
// control API; compose.e2e.ts does that here with the engine).
const STORIES = ['stays-logged-in-while-hopping', 'edit-a-product', 'cross-site-post-refused'];

onStopSignal('test:compose', () => composeDown({ say }));
let code = 1;
try {
  const refusals = await shown(process.execPath, ['--test', join(import.meta.dirname, 'refusal.e2e.ts')]);
  if (refusals !== 0) throw new Error('compose:up did not refuse a bad configuration as it should');
  mkdirSync(BACKUP_KEYS_DIR, { recursive: true, mode: 0o700 });
  // Read by compose (the backups service's environment) and inherited by compose.e2e.ts, whose compose commands
  // resolve the same file.
  process.env.BACKUP_AGE_RECIPIENTS = readFileSync(ensureKeyPair(BACKUP_KEYS_DIR).recipientFile, 'utf8').trim();
  await composeUp({ profiles: TESTED_PROFILES, fresh: true, say });
  say(`stack up at ${seconds()}`);
  const checks = await shown(process.execPath, ['--test', '--test-concurrency=1', join(import.meta.dirname, 'compose.e2e.ts')]);
  const stories = await shown(
    join(repoRoot, 'node_modules/.bin/playwright'),
    ['test', '-c', 'e2e/playwright.config.ts', ...STORIES.map((story) => `e2e/${story}.spec.ts`)],
    { E2E_BASE_URL: 'http://localhost:8080' },
  );
  code = checks || stories;
} catch (err) {
  console.error((err as Error).message);
} finally {
  await composeDown({ say }).catch((err: Error) => {
    console.error(err.message);
    code = 1;
  });
}
say(`${code === 0 ? 'passed' : 'FAILED'} in ${seconds()}`);
process.exit(code);
