/**
 * Helpers for x-arguments and header values: equality across the integer encodings clients pick
 * ('b', 'I', 'l', ...), and a stable key for a table so bindings that differ only in arguments differ.
 */
import { Decimal, type FieldTable, type FieldValue } from '../codec/index.js';

/** True when two field values are equal, treating every numeric encoding of one number alike. */
export function fieldValuesEqual(left: FieldValue | undefined, right: FieldValue | undefined): boolean {
  if (left === right) return true;
  if (left === undefined || right === undefined || left === null || right === null) return false;
  if (isNumeric(left) && isNumeric(right)) return Number(left) === Number(right);
  if (Buffer.isBuffer(left) || Buffer.isBuffer(right)) {
    const a = Buffer.isBuffer(left) ? left : typeof left === 'string' ? Buffer.from(left) : null;
    const b = Buffer.isBuffer(right) ? right : typeof right === 'string' ? Buffer.from(right) : null;
    return a !== null && b !== null && a.equals(b);
  }
  if (left instanceof Date && right instanceof Date) return left.getTime() === right.getTime();
  if (left instanceof Decimal && right instanceof Decimal) return left.scale === right.scale && left.value === right.value;
  if (Array.isArray(left) && Array.isArray(right)) {
    return left.length === right.length && left.every((value, index) => fieldValuesEqual(value, right[index]));
  }
  if (isTable(left) && isTable(right)) return tablesEqual(left, right);
  return false;
}

/** True when both tables have the same keys with equal values. */
export function tablesEqual(left: FieldTable, right: FieldTable): boolean {
  const leftKeys = Object.keys(left);
  if (leftKeys.length !== Object.keys(right).length) return false;
  return leftKeys.every((key) => key in right && fieldValuesEqual(left[key], right[key]));
}

/** A string that is equal for equal tables (keys sorted, numbers normalised). */
export function tableKey(table: FieldTable): string {
  const keys = Object.keys(table).sort();
  if (keys.length === 0) return '';
  return JSON.stringify(keys.map((key) => [key, valueKey(table[key] ?? null)]));
}

function valueKey(value: FieldValue): unknown {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return `n:${value.toString()}`;
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  if (value instanceof Date) return `t:${value.getTime()}`;
  if (value instanceof Decimal) return `d:${value.scale}:${value.value}`;
  if (Array.isArray(value)) return value.map(valueKey);
  return tableKey(value);
}

function isNumeric(value: FieldValue | undefined): value is number | bigint {
  return typeof value === 'number' || typeof value === 'bigint';
}

/** True for a nested field table (not an array, bytes, a timestamp or a decimal). */
export function isTable(value: FieldValue): value is FieldTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) &&
    !(value instanceof Date) && !(value instanceof Decimal);
}

/** A field value as an integer, whatever integer encoding the client chose; undefined when it is none. */
export function integerValue(value: FieldValue | undefined): number | undefined {
  if (typeof value === 'bigint') return Number(value);
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

/** A field value as text (longstr or bytes); undefined when it is neither. */
export function stringValue(value: FieldValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
}

/** Renders a field value for an error message. */
export function describeValue(value: FieldValue | undefined): string {
  if (value === undefined) return 'none';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(valueKey(value));
}

/**
 * The AMQP type name RabbitMQ reports for a value in error texts. Integers are named by the narrowest
 * type that holds them, which is how amqplib encodes them (the decoded value no longer says).
 */
export function fieldTypeName(value: FieldValue | undefined): string {
  if (value === undefined || value === null) return 'void';
  if (typeof value === 'string' || Buffer.isBuffer(value)) return 'longstr';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'bigint') return 'long';
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return 'double';
    if (value >= -128 && value < 128) return 'byte';
    if (value >= -32768 && value < 32768) return 'short';
    return value >= -(2 ** 31) && value < 2 ** 31 ? 'signedint' : 'long';
  }
  if (value instanceof Date) return 'timestamp';
  if (value instanceof Decimal) return 'decimal';
  return Array.isArray(value) ? 'array' : 'table';
}

/**
 * How RabbitMQ words an inequivalent argument: plain values when both sides have one, otherwise
 * "none" against "the value 'v' of type 't'".
 */
export function describeInequivalence(received: FieldValue | undefined, current: FieldValue | undefined): string {
  if (received !== undefined && current !== undefined) return `received '${plainValue(received)}' but current is '${plainValue(current)}'`;
  return `received ${typedValue(received)} but current is ${typedValue(current)}`;
}

function typedValue(value: FieldValue | undefined): string {
  return value === undefined ? 'none' : `the value '${plainValue(value)}' of type '${fieldTypeName(value)}'`;
}

function plainValue(value: FieldValue): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(valueKey(value));
}
