import { resolve } from 'node:path';
import { REDIS_MODES, type RedisMode } from './redis-topology.ts';

type StackPorts = { nginxPort: number; redisPort: number; appBasePort: number; runDir: string; redis: RedisMode };

/** The command-line options of a tool that boots a stack of its own (ports and run dir), with its defaults. */
export const stackOptionSpec = (defaults: StackPorts) =>
  ({
    'nginx-port': { type: 'string', default: String(defaults.nginxPort) },
    'redis-port': { type: 'string', default: String(defaults.redisPort) },
    'app-base-port': { type: 'string', default: String(defaults.appBasePort) },
    'run-dir': { type: 'string', default: defaults.runDir },
    redis: { type: 'string', default: defaults.redis },
  }) as const;

/** Those options as startStack takes them. */
export const stackOptionsFrom = (
  values: { 'run-dir': string },
  integer: (name: 'nginx-port' | 'redis-port' | 'app-base-port') => number,
  choice: (name: 'redis', choices: typeof REDIS_MODES) => RedisMode,
): StackPorts => ({
  redis: choice('redis', REDIS_MODES),
  nginxPort: integer('nginx-port'),
  redisPort: integer('redis-port'),
  appBasePort: integer('app-base-port'),
  runDir: resolve(values['run-dir']),
});
