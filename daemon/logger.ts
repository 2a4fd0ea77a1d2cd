/**
 * The daemon's logger: pino JSON lines on stdout (journald keeps them under systemd).
 * Redaction is a safety net; sources already redact URLs before logging them.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { redactUrl } from '../pipeline/core/redact.js';
import type { LogLevel } from './config/schema.js';

export type { Logger };

/** Fields whose whole value is a secret. */
const SECRET_PATHS = [
  'password',
  '*.password',
  '*.sasl.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
];
/** Fields holding a URL that may carry credentials: kept, but with the credentials redacted. */
const URL_PATHS = ['url', '*.url', 'streams[*].url', 'config.streams[*].url'];

function censor(value: unknown, path: string[]): unknown {
  const key = path[path.length - 1];
  return key === 'url' && typeof value === 'string' ? redactUrl(value) : '[redacted]';
}

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Defaults to stdout. */
  readonly destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      name: 'segd',
      level: opts.level,
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"info" rather than 30: readable in journalctl and greppable.
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...SECRET_PATHS, ...URL_PATHS], censor },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
