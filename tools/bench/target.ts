import { join } from 'node:path';
import { makeUsers, parseUsers } from '../lib/demo-users.ts';
import { printToStackLog } from '../stack/stack-log.ts';
import { startStack, type Stack } from '../stack/start-stack.ts';
import type { BenchOptions } from './options.ts';

/**
 * What the benchmark measures: its own stack (users created for it, the admin URL known), or the running one
 * named by --url (the users given, Redis figures only with --redis-admin-url). `onStack` hears of a stack as soon
 * as it exists, so a signal during the run can stop it.
 */
export async function bootTarget(options: BenchOptions, onStack: (stack: Stack) => void) {
  if (options.external) {
    const { url, loginUsers, adminUrl } = options.external;
    return { baseUrl: url, users: parseUsers(loginUsers), adminUrl, stack: undefined };
  }
  const { users, demoUsers } = makeUsers('bench', options.users);
  const stack = await startStack({
    ...options.stack,
    fresh: true,
    env: { ...process.env, DEMO_USERS: demoUsers },
    print: printToStackLog(options.stack.runDir),
    outputFile: join(options.stack.runDir, 'children.log'),
  });
  onStack(stack);
  return { baseUrl: stack.urls.nginx, users, adminUrl: await stack.redis.primaryAdminUrl(), stack };
}
