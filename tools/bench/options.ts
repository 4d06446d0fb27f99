import { join, resolve } from 'node:path';
import { parseCommandLine } from '../lib/command-line.ts';
import { DEFAULT_DEMO_USERS } from '../lib/demo-users.ts';
import { repoRoot } from '../lib/paths.ts';

/** The benchmark's command line, checked and typed. */
export function loadBenchOptions(args = process.argv.slice(2)) {
  const { values, integer } = parseCommandLine(
    {
      duration: { type: 'string', default: '8' },
      connections: { type: 'string', default: '32' },
      users: { type: 'string', default: '50' },
      sessions: { type: 'string', default: '1000000' },
      instances: { type: 'string', default: '3' },
      'nginx-port': { type: 'string', default: '18480' },
      'redis-port': { type: 'string', default: '16480' },
      'app-base-port': { type: 'string', default: '13400' },
      'run-dir': { type: 'string', default: join(repoRoot, '.run/bench') },
      url: { type: 'string' },
      'login-users': { type: 'string', default: DEFAULT_DEMO_USERS },
      'redis-admin-url': { type: 'string' },
    },
    args,
  );
  return {
    durationS: integer('duration'),
    connections: integer('connections'),
    /** The 1M-session step needs the bench's own stack (it fills that Redis). */
    scaleSessions: values.url ? 0 : integer('sessions', 0),
    users: integer('users'),
    stack: {
      instances: integer('instances'),
      nginxPort: integer('nginx-port'),
      redisPort: integer('redis-port'),
      appBasePort: integer('app-base-port'),
      runDir: resolve(values['run-dir']),
    },
    /** Measure a running stack instead of booting one. */
    external: values.url
      ? { url: values.url.replace(/\/$/, ''), loginUsers: values['login-users'], adminUrl: values['redis-admin-url'] }
      : undefined,
  };
}

export type BenchOptions = ReturnType<typeof loadBenchOptions>;
