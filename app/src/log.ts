import { pino } from 'pino';
import type { Config } from './config.ts';

export type Logger = ReturnType<typeof createLogger>;

/**
 * JSON lines on stdout; every line names the instance. Request logs never carry headers (cookies): the request
 * serializer in app.ts picks method, path and status only.
 * Asynchronous writes: lines written in the same tick leave in one write(2) instead of one each, which under load
 * is a measurable share of a request's cost (npm run bench); pino flushes what is pending when the process exits.
 */
export function createLogger(
  config: Pick<Config, 'logLevel' | 'instanceId'>,
  destination = pino.destination({ dest: 1, sync: false }),
) {
  return pino({ level: config.logLevel, base: { instance: config.instanceId } }, destination);
}
