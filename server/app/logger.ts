import pino from 'pino';
import type { Config } from './config';

/** JSON lines on stdout; secrets never reach here (cookie and authorization headers are redacted). */
export const createLogger = (config: Pick<Config, 'logLevel'>) =>
  pino({
    level: config.logLevel,
    redact: ['req.headers.cookie', 'req.headers.authorization'],
  });
export type { Logger } from 'pino';
