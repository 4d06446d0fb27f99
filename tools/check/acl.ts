import { join } from 'node:path';
import { repoRoot } from '../lib/paths.ts';
import { run } from '../lib/spawn.ts';
import type { CheckResult } from './result.ts';

/**
 * The app's own ACL test, run here too: a real instance, as the `app` user of the ACL the shipped render-acl.sh
 * writes, goes through every path that touches Redis (readiness, a failed and a good login, a session write, "Your
 * sessions" listed and ended, logout), and the commands Redis counted (a script's own commands included) must equal
 * what the ACL grants, no more and no fewer.
 */
export async function checkAclMatchesApp(): Promise<CheckResult> {
  const test = join(repoRoot, 'app/test/integration/acl.test.ts');
  const { code, output } = await run(process.execPath, ['--test', '--test-reporter=dot', test], { stdout: true });
  return code === 0 ? { ok: true } : { ok: false, problems: [output] };
}
