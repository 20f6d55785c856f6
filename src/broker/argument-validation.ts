/**
 * Validation of the x-arguments RabbitMQ checks on queue.declare, exchange.declare and bindings.
 * A bad value is a 406 PRECONDITION_FAILED channel error, as in RabbitMQ.
 */
import type { FieldTable, FieldValue } from '../codec/index.js';
import { describeValue } from './arguments.js';
import { preconditionFailed } from './errors.js';
import { X_MATCH_MODES } from './exchange/headers.js';

type Check = (value: FieldValue) => string | undefined;

const integer = (value: FieldValue): number | undefined =>
  typeof value === 'bigint' ? Number(value) : typeof value === 'number' && Number.isInteger(value) ? value : undefined;

const nonNegativeInteger: Check = (value) => {
  const number = integer(value);
  if (number === undefined) return 'not an integer';
  return number < 0 ? 'value_negative' : undefined;
};
const positiveInteger: Check = (value) => {
  const number = integer(value);
  if (number === undefined) return 'not an integer';
  return number <= 0 ? 'value_zero_or_less' : undefined;
};
const string: Check = (value) => (typeof value === 'string' || Buffer.isBuffer(value) ? undefined : 'not a string');
const oneOf = (...allowed: string[]): Check => (value) =>
  typeof value === 'string' && allowed.includes(value) ? undefined : `not one of ${allowed.join(', ')}`;
const boolean: Check = (value) => (typeof value === 'boolean' ? undefined : 'not a boolean');

const QUEUE_ARGUMENT_CHECKS: Record<string, Check> = {
  'x-expires': positiveInteger,
  'x-message-ttl': nonNegativeInteger,
  'x-dead-letter-exchange': string,
  'x-dead-letter-routing-key': string,
  'x-max-length': nonNegativeInteger,
  'x-max-length-bytes': nonNegativeInteger,
  'x-max-priority': (value) => {
    const problem = nonNegativeInteger(value);
    if (problem !== undefined) return problem;
    return (integer(value) ?? 0) > 255 ? 'max priority above 255' : undefined;
  },
  'x-overflow': oneOf('drop-head', 'reject-publish', 'reject-publish-dlx'),
  'x-queue-mode': oneOf('default', 'lazy'),
  'x-single-active-consumer': boolean,
};

/** Checks queue.declare arguments; throws 406 naming the first bad one. */
export function validateQueueArguments(args: FieldTable, subject: string): void {
  for (const [key, check] of Object.entries(QUEUE_ARGUMENT_CHECKS)) {
    const value = args[key];
    if (value === undefined) continue;
    const problem = check(value);
    if (problem !== undefined) throw preconditionFailed(`invalid arg '${key}' for ${subject}: ${problem} (${describeValue(value)})`);
  }
}

/** Checks exchange.declare arguments; throws 406 on a bad alternate-exchange. */
export function validateExchangeArguments(args: FieldTable, subject: string): void {
  const alternate = args['alternate-exchange'];
  if (alternate !== undefined && string(alternate) !== undefined) {
    throw preconditionFailed(`invalid arg 'alternate-exchange' for ${subject}: not a string (${describeValue(alternate)})`);
  }
}

/** Checks a binding to a headers exchange: x-match must be one of RabbitMQ's modes. */
export function validateHeadersBinding(args: FieldTable): void {
  const mode = args['x-match'];
  if (mode === undefined) return;
  const text = typeof mode === 'string' ? mode : Buffer.isBuffer(mode) ? mode.toString() : undefined;
  if (text === undefined || !(X_MATCH_MODES as readonly string[]).includes(text)) {
    throw preconditionFailed(`Invalid x-match field value ${describeValue(mode)}; expected all, any, all-with-x, or any-with-x`);
  }
}
