import { parseCommandLine } from '../lib/command-line.ts';
import { DEFAULT_SESSION_LIFETIME_S, dropOldSessionSecrets, rotateSecrets } from './rotate-secrets.ts';
import { controlOfStack, RotationError } from './stack-control.ts';

const usage = `
npm run rotate-secrets: new passwords for every Redis ACL user and a new session secret on the running local stack
(npm start -- --control), with no request refused: the new values beside the old on every node and Sentinel, the
apps restarted one at a time onto them, then the old passwords removed and checked refused. The new values are in
<run-dir>/secrets/. The older session secrets still verify cookies (and a read re-signs them under the new one)
until --drop-old, which is refused until a session's lifetime has passed since the new secret was added.

  npm run rotate-secrets                            the stack of .run/ (its control API on 127.0.0.1:8099)
  npm run rotate-secrets -- --run-dir DIR --control-port N   a stack started with those options
  npm run rotate-secrets -- --drop-old              keep only the newest session secret (after the lifetime)
  npm run rotate-secrets -- --drop-old --session-lifetime-s N   the stack's SESSION_ABSOLUTE_TIMEOUT_S, if not the
                                                    app's default (${DEFAULT_SESSION_LIFETIME_S} s)

Options: --run-dir DIR (.run/), --control-port N (8099), --drop-old, --session-lifetime-s N, --help`;

const { values, integer } = parseCommandLine(
  { command: 'npm run rotate-secrets', usage },
  {
    'run-dir': { type: 'string' },
    'control-port': { type: 'string', default: '8099' },
    'drop-old': { type: 'boolean', default: false },
    'session-lifetime-s': { type: 'string', default: String(DEFAULT_SESSION_LIFETIME_S) },
  },
);

const log = (line: string) => console.log(`[rotate] ${line}`);
try {
  const control = controlOfStack(values['run-dir'], integer('control-port'));
  const started = performance.now();
  if (values['drop-old']) await dropOldSessionSecrets({ control, log, lifetimeS: integer('session-lifetime-s') });
  else await rotateSecrets({ control, log });
  log(`${Math.round(performance.now() - started)} ms`);
} catch (err) {
  console.error(`[rotate] ${err instanceof RotationError ? err.message : `failed: ${(err as Error).stack}`}`);
  process.exit(1);
}
