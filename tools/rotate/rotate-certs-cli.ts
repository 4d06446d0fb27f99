import { parseCommandLine } from '../lib/command-line.ts';
import { rotateCertificates } from './rotate-certs.ts';
import { controlOfStack, RotationError } from './stack-control.ts';

const usage = `
npm run rotate-certs: new TLS certificates for every Redis node and Sentinel and the cache Redis of the running local
stack (npm start -- --control), with no request refused. The new files are in <run-dir>/secrets/.

  npm run rotate-certs                              a new server key and certificate from the same CA: the nodes
                                                    reload it (CONFIG SET), the Sentinels restart one at a time;
                                                    the app trusts the CA and is not restarted
  npm run rotate-certs -- --new-ca                  a new CA: first everyone trusts old and new (the app instances
                                                    read it again on SIGHUP, no restart), then the servers switch to
                                                    certificates from the new CA, then the old CA is removed
                                                    everywhere and checked refused by every server
  npm run rotate-certs -- --run-dir DIR --control-port N   a stack started with those options

Options: --run-dir DIR (.run/), --control-port N (8099), --new-ca, --help`;

const { values, integer } = parseCommandLine(
  { command: 'npm run rotate-certs', usage },
  {
    'run-dir': { type: 'string' },
    'control-port': { type: 'string', default: '8099' },
    'new-ca': { type: 'boolean', default: false },
  },
);

const log = (line: string) => console.log(`[rotate-certs] ${line}`);
try {
  const control = controlOfStack(values['run-dir'], integer('control-port'));
  const started = performance.now();
  await rotateCertificates({ control, log, newCa: values['new-ca'] });
  log(`done in ${Math.round(performance.now() - started)} ms`);
} catch (err) {
  console.error(`[rotate-certs] ${err instanceof RotationError ? err.message : `failed: ${(err as Error).stack}`}`);
  process.exit(1);
}
