import { join } from 'node:path';
import { parseCommandLine } from '../lib/command-line.ts';
import { DEFAULT_DEMO_USERS } from '../lib/demo-users.ts';
import { repoRoot } from '../lib/paths.ts';
import { stackOptionsFrom, stackOptionSpec } from '../stack/options.ts';

export const usage = `
npm run bench: throughput, latency, Redis commands and memory per session, through nginx, on loopback.
Prints markdown tables and writes results/bench-<timestamp>.json. Exits 0 whether or not the goals are met.

  npm run bench                              boots its own stack (nginx 18480, redis 16480, apps 13401.., .run/bench)
  npm run bench -- --duration 2              seconds per load scenario (default 8)
  npm run bench -- --write-docs             also puts the tables into docs/performance.md, between its bench markers
  npm run bench -- --rounds 3                interleaved rounds against the connect-redis README setup (default 5; 0 skips it)
  npm run bench -- --sessions 0              skip the 1M-session scale step (default 1000000 sessions)
  npm run bench -- --url http://127.0.0.1:8080 --login-users alice:alice-password-1 [--redis-admin-url redis://...]
                                             measures a running stack (no scale step; Redis figures need the admin URL)

Options: --duration S, --rounds N, --write-docs, --connections N (32), --users N (50), --sessions N, --instances N (3), --nginx-port,
--redis-port, --app-base-port, --run-dir DIR, --url URL, --login-users name:password,..., --redis-admin-url URL, --help`;

/** The benchmark's command line, checked and typed. */
export function loadBenchOptions(args = process.argv.slice(2)) {
  const { values, integer, choice } = parseCommandLine(
    { command: 'npm run bench', usage },
    {
      duration: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '5' },
      'write-docs': { type: 'boolean', default: false },
      connections: { type: 'string', default: '32' },
      users: { type: 'string', default: '50' },
      sessions: { type: 'string', default: '1000000' },
      instances: { type: 'string', default: '3' },
      ...stackOptionSpec({
        nginxPort: 18480,
        redisPort: 16480,
        appBasePort: 13400,
        runDir: join(repoRoot, '.run/bench'),
        redis: 'sentinel',
      }),
      url: { type: 'string' },
      'login-users': { type: 'string', default: DEFAULT_DEMO_USERS },
      'redis-admin-url': { type: 'string' },
    },
    args,
  );
  return {
    durationS: integer('duration'),
    /** Side-by-side rounds with the naive stack (needs the bench's own stack). */
    rounds: values.url ? 0 : integer('rounds', 0),
    /** The published figures come from a run, never typed in: this run's tables replace docs/performance.md's block. */
    writeDocs: Boolean(values['write-docs']),
    connections: integer('connections'),
    /** The 1M-session step needs the bench's own stack (it fills that Redis). */
    scaleSessions: values.url ? 0 : integer('sessions', 0),
    users: integer('users'),
    stack: { instances: integer('instances'), ...stackOptionsFrom(values, integer, choice) },
    /** Measure a running stack instead of booting one. */
    external: values.url
      ? { url: values.url.replace(/\/$/, ''), loginUsers: values['login-users'], adminUrl: values['redis-admin-url'] }
      : undefined,
  };
}

export type BenchOptions = ReturnType<typeof loadBenchOptions>;
