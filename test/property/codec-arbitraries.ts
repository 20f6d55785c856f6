/**
 * fast-check arbitraries for codec values, plus `expected*` helpers that map a value to what decoding its
 * encoding must yield (integers narrow to the wire form, tables get a null prototype, dates lose millis).
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import {
  Decimal,
  METHOD_ARGUMENTS,
  type ArgumentType,
  type BasicProperties,
  type FieldTable,
  type FieldValue,
  type Method,
  type MethodName,
} from '../../src/codec/index.js';

/** Options for field value generation. */
export interface FieldArbOptions {
  /** Only value kinds amqplib encodes with the same bytes as Warren (no small ints, dates, decimals, bigints). */
  amqplibCompatible?: boolean;
}

/** A UTF-8 string of at most 255 bytes, full Unicode. */
export const shortString = fc
  .string({ unit: 'binary', maxLength: 40 })
  .filter((s) => Buffer.byteLength(s, 'utf8') <= 255);

/** Table keys, including ones that are dangerous on ordinary objects. */
export const tableKey = fc.oneof(
  shortString,
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', ''),
);

const bytes = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));

function scalar(options: FieldArbOptions): fc.Arbitrary<FieldValue> {
  const common: fc.Arbitrary<FieldValue>[] = [
    fc.boolean(),
    fc.string({ unit: 'binary', maxLength: 40 }),
    bytes,
    fc.constant(null),
    fc.oneof(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: -0x80000001 }), fc.integer({ min: 0x80000000, max: Number.MAX_SAFE_INTEGER })),
  ];
  if (options.amqplibCompatible === true) {
    // amqplib picks the narrowest integer tag; Warren always uses 'I' for int32, so agree only outside int16.
    // amqplib also mistakes NaN, -Infinity and fractions beyond 2^50 for int64s (and throws), so keep clear.
    common.push(fc.double({ noInteger: true, noNaN: true, min: -(2 ** 50), max: 2 ** 50 }));
    common.push(fc.oneof(fc.integer({ min: 0x8000, max: 0x7fffffff }), fc.integer({ min: -0x80000000, max: -0x8001 })));
    return fc.oneof(...common);
  }
  common.push(
    fc.double({ noInteger: true }),
    fc.integer({ min: -0x80000000, max: 0x7fffffff }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.integer({ min: 0, max: 2 ** 40 }).map((s) => new Date(s * 1000)),
    fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffffffff })).map(([s, v]) => new Decimal(s, v)),
  );
  return fc.oneof(...common);
}

/** Builds a null-prototype table from entries (duplicate keys: last wins, as in decoding). */
export function tableOf(entries: readonly (readonly [string, FieldValue])[]): FieldTable {
  const t = Object.create(null) as FieldTable;
  for (const [k, v] of entries) t[k] = v;
  return t;
}

/** Field values (recursive through arrays and tables) and tables. */
export function fieldArbs(options: FieldArbOptions = {}): { value: fc.Arbitrary<FieldValue>; table: fc.Arbitrary<FieldTable> } {
  const { value, table } = fc.letrec<{ value: FieldValue; table: FieldTable }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar(options),
      fc.array(tie('value'), { maxLength: 5 }),
      tie('table'),
    ),
    table: fc
      // amqplib reads a nested table with a '!' key as its typed-value trapdoor ({'!': type, value}).
      .uniqueArray(fc.tuple(options.amqplibCompatible === true ? tableKey.filter((key) => key !== '!') : tableKey, tie('value')), { maxLength: 6, selector: (e) => e[0] })
      .map((entries) => tableOf(entries)),
  }));
  return { value, table };
}

/** What decoding the encoding of v yields. */
export function expectedValue(v: FieldValue): FieldValue {
  if (typeof v === 'number') return Object.is(v, -0) ? 0 : v;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(expectedValue);
  if (Buffer.isBuffer(v) || v instanceof Decimal) return v;
  if (v instanceof Date) return new Date(Math.floor(v.getTime() / 1000) * 1000);
  return expectedTable(v);
}

/** What decoding the encoding of t yields. */
export function expectedTable(t: FieldTable): FieldTable {
  return tableOf(Object.keys(t).map((k) => [k, expectedValue(t[k] ?? null)] as const));
}

const UINT_MAX: Partial<Record<ArgumentType, number>> = {
  octet: 0xff,
  short: 0xffff,
  long: 0xffffffff,
  longlong: Number.MAX_SAFE_INTEGER,
  timestamp: Number.MAX_SAFE_INTEGER,
};

function argumentArb(type: ArgumentType, options: FieldArbOptions): fc.Arbitrary<unknown> {
  const max = UINT_MAX[type];
  if (max !== undefined) return fc.integer({ min: 0, max });
  switch (type) {
    case 'bit':
      return fc.boolean();
    case 'shortstr':
      return shortString;
    case 'longstr':
      return bytes;
    case 'table':
      return fieldArbs(options).table;
    default:
      throw new Error(`no arbitrary for ${type}`);
  }
}

/** A random value for the given method. */
export function methodArb(name: MethodName, options: FieldArbOptions = {}): fc.Arbitrary<Method> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const a of METHOD_ARGUMENTS[name]) record[a.name] = argumentArb(a.type, options);
  return fc.record(record).map((fields) => ({ name, ...fields }) as Method);
}

/** What decoding the encoding of m yields. */
export function expectedMethod(m: Method): Method {
  const out: Record<string, unknown> = { ...m };
  for (const a of METHOD_ARGUMENTS[m.name]) {
    if (a.type === 'table') out[a.name] = expectedTable(out[a.name] as FieldTable);
  }
  return out as unknown as Method;
}

/** Any subset of the 14 basic properties. */
export function propertiesArb(options: FieldArbOptions = {}): fc.Arbitrary<BasicProperties> {
  const octet = fc.integer({ min: 0, max: 255 });
  return fc.record(
    {
      contentType: shortString,
      contentEncoding: shortString,
      headers: fieldArbs(options).table,
      deliveryMode: octet,
      priority: octet,
      correlationId: shortString,
      replyTo: shortString,
      expiration: shortString,
      messageId: shortString,
      timestamp: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      type: shortString,
      userId: shortString,
      appId: shortString,
      clusterId: shortString,
    },
    { requiredKeys: [] },
  );
}

/** What decoding the encoding of p yields. */
export function expectedProperties(p: BasicProperties): BasicProperties {
  return p.headers === undefined ? { ...p } : { ...p, headers: expectedTable(p.headers) };
}

/** Number of fast-check runs per property; FAST_CHECK_RUNS raises it for a soak. */
export const RUNS = Number(process.env['FAST_CHECK_RUNS'] ?? 200);
