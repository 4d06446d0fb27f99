import { pino } from 'pino';
import type { Config } from './config.ts';

export type Logger = ReturnType<typeof createLogger>;

/** JSON lines on stdout; every line names the instance. Request logs never carry headers (cookies). */
export function createLogger(config: Pick<Config, 'logLevel' | 'instanceId'>) {
  return pino({
    level: config.logLevel,
    base: { instance: config.instanceId },
    // Defence in depth: these paths must never reach a log line even if someone logs a whole request.
    redact: { paths: ['req.headers.cookie', 'res.headers["set-cookie"]', 'password', '*.password'], censor: '[redacted]' },
  });
}
