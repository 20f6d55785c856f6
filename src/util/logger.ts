/**
 * Structured logging: a thin shape over pino so domain code depends only on this interface.
 */
import { pino } from 'pino';

/** Structured logger: a message plus a context object, JSON out. */
export interface Logger {
  error(context: object, message: string): void;
  warn(context: object, message: string): void;
  info(context: object, message: string): void;
  debug(context: object, message: string): void;
  child(bindings: object): Logger;
}

/** Creates a JSON logger writing to stdout at the given level ("silent" logs nothing). */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'warren' } });
}
