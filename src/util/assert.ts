/**
 * Assertions for programmer errors. Peer input never reaches these: it becomes a protocol error.
 */

/** Throws when a condition the code relies on does not hold. */
export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new Error(`internal error: ${message}`);
}

/** Marks the end of an exhaustive switch over a discriminated union. */
export function assertNever(value: never): never {
  throw new Error(`internal error: unexpected value ${JSON.stringify(value)}`);
}
