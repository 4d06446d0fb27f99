import { type DestinationStream, pino } from 'pino';
import type { Config } from './config.ts';

export type Logger = ReturnType<typeof createLogger>;

/**
 * JSON lines on stdout; every line names the instance. Request logs never carry headers (cookies): the request
 * serializer in app.ts picks method, path and status only.
 * pino's default synchronous stdout: `pino.destination({ sync: false })` was measured with `npm run bench` and cost
 * as much or slightly more CPU per request, so the simpler default stays.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'instanceId'>, destination?: DestinationStream) {
  const options = { level: config.logLevel, base: { instance: config.instanceId } };
  return destination ? pino(options, destination) : pino(options);
}
