/**
 * A message's location packed into one number: segment * 2^32 + offset. A number (not an object) costs
 * no allocation per message and packs into a Float64Array, which is how a deep queue keeps millions of
 * paged-out messages in a few bytes each. Exact while segment < 2^21, far beyond any real log.
 */
import type { MessageLocation } from '../broker/ports.js';

const SEGMENT_UNIT = 2 ** 32;

/** Packs a segment number and a byte offset in it. */
export function locationOf(segment: number, offset: number): MessageLocation {
  return (segment * SEGMENT_UNIT + offset) as MessageLocation;
}

/** The segment number of a location. */
export function segmentOf(location: MessageLocation): number {
  return Math.floor(location / SEGMENT_UNIT);
}

/** The byte offset of a location in its segment. */
export function offsetOf(location: MessageLocation): number {
  return location % SEGMENT_UNIT;
}
