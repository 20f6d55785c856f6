/**
 * Validation of the x-arguments RabbitMQ checks on queue.declare, exchange.declare and bindings.
 * A bad value is a 406 PRECONDITION_FAILED channel error, as in RabbitMQ.
 */
import type { FieldTable, FieldValue } from '../codec/index.js';
import { describeValue, fieldTypeName, integerValue } from './arguments.js';
import { preconditionFailed } from './errors.js';
import { X_MATCH_MODES } from './exchange/headers.js';

/** A check returns RabbitMQ's error term for a bad value, or undefined when the value is fine. */
type Check = (value: FieldValue, args: FieldTable) => string | undefined;

/** RabbitMQ's ceiling for TTLs and expiry times: ten years in milliseconds. */
const EXPIRY_MAX_MS = 315_360_000_000;
/** RabbitMQ's highest x-max-priority. */
const PRIORITY_MAX = 255;

const integer = integerValue;

const integerCheck: Check = (value) => (integer(value) === undefined ? `"expected integer, got ${fieldTypeName(value)}"` : undefined);

/** Applies `then` to the integer once the value is known to be one. */
const whenInteger = (then: (number: number) => string | undefined): Check => (value, args) =>
  integerCheck(value, args) ?? then(integer(value) as number);

const nonNegativeInteger = whenInteger((number) => (number < 0 ? `{value_negative,${number}}` : undefined));
const expiryCheck = (number: number): string | undefined => {
  if (number < 0) return `{value_negative,${number}}`;
  return number > EXPIRY_MAX_MS ? `{value_too_large,${number}}` : undefined;
};
const boolean: Check = (value) => (typeof value === 'boolean' ? undefined : `{unacceptable_type,${fieldTypeName(value)}}`);
const string: Check = (value) =>
  typeof value === 'string' || Buffer.isBuffer(value) ? undefined : `{unacceptable_type,${fieldTypeName(value)}}`;

const QUEUE_ARGUMENT_CHECKS: Record<string, Check> = {
  'x-expires': whenInteger((number) => (number === 0 ? '{value_zero,0}' : expiryCheck(number))),
  'x-message-ttl': whenInteger(expiryCheck),
  'x-dead-letter-exchange': string,
  'x-dead-letter-routing-key': (value, args) =>
    string(value, args) ?? (args['x-dead-letter-exchange'] === undefined ? 'routing_key_but_no_dlx_defined' : undefined),
  'x-max-length': nonNegativeInteger,
  'x-max-length-bytes': nonNegativeInteger,
  'x-max-priority': whenInteger((number) => {
    if (number < 0) return `{value_negative,${number}}`;
    return number > PRIORITY_MAX ? `{max_value_exceeded,${number}}` : undefined;
  }),
  'x-overflow': (value) =>
    (typeof value === 'string' || Buffer.isBuffer(value)) && ['drop-head', 'reject-publish', 'reject-publish-dlx'].includes(value.toString())
      ? undefined
      : 'invalid_overflow',
  'x-queue-mode': (value) =>
    (typeof value === 'string' || Buffer.isBuffer(value)) && ['default', 'lazy'].includes(value.toString()) ? undefined : `{unacceptable_value,${describeValue(value)}}`,
  'x-single-active-consumer': boolean,
  'x-delivery-limit': nonNegativeInteger,
  'x-consumer-timeout': whenInteger((number) => (number <= 0 ? `{value_zero_or_less,${number}}` : undefined)),
};

/** Checks queue.declare arguments; throws 406 naming the first bad one, with RabbitMQ's text. */
export function validateQueueArguments(args: FieldTable, subject: string): void {
  for (const [key, check] of Object.entries(QUEUE_ARGUMENT_CHECKS)) {
    const value = args[key];
    if (value === undefined) continue;
    const problem = check(value, args);
    if (problem !== undefined) throw preconditionFailed(`invalid arg '${key}' for ${subject}: ${problem}`);
  }
}

/** Checks exchange.declare arguments; throws 406 on a bad alternate-exchange. */
export function validateExchangeArguments(args: FieldTable, subject: string): void {
  const alternate = args['alternate-exchange'];
  if (alternate !== undefined && typeof alternate !== 'string' && !Buffer.isBuffer(alternate)) {
    throw preconditionFailed(`invalid type '${fieldTypeName(alternate)}' for arg 'alternate-exchange' in ${subject}`);
  }
}

/** The x-priority argument of basic.consume (an integer; 0 without it), checked as RabbitMQ does. */
export function consumerPriority(args: FieldTable, subject: string): number {
  const value = args['x-priority'];
  if (value === undefined) return 0;
  const problem = integerCheck(value, args);
  if (problem !== undefined) throw preconditionFailed(`invalid arg 'x-priority' for ${subject}: ${problem}`);
  return integer(value) as number;
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
