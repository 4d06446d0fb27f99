import { resolve } from 'node:path';

type StackPorts = { nginxPort: number; redisPort: number; appBasePort: number; runDir: string };

/** The command-line options of a tool that boots a stack of its own (ports and run dir), with its defaults. */
export const stackOptionSpec = (defaults: StackPorts) =>
  ({
    'nginx-port': { type: 'string', default: String(defaults.nginxPort) },
    'redis-port': { type: 'string', default: String(defaults.redisPort) },
    'app-base-port': { type: 'string', default: String(defaults.appBasePort) },
    'run-dir': { type: 'string', default: defaults.runDir },
  }) as const;

/** Those options as startStack takes them. */
export const stackOptionsFrom = (
  values: { 'run-dir': string },
  integer: (name: 'nginx-port' | 'redis-port' | 'app-base-port') => number,
): StackPorts => ({
  nginxPort: integer('nginx-port'),
  redisPort: integer('redis-port'),
  appBasePort: integer('app-base-port'),
  runDir: resolve(values['run-dir']),
});
