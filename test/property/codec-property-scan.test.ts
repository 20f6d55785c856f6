/**
 * Property tests for scanBasicProperties: on any property list it finds what decodeBasicProperties
 * decodes, and on any malformed input it throws exactly what the decode throws.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeBasicProperties,
  encodeBasicProperties,
  headerValueAt,
  scanBasicProperties,
  shortStringAt,
  withoutHeaderEntries,
  type FieldValue,
} from '../../src/codec/index.js';
import { RUNS, fieldArbs, propertiesArb, shortString } from './codec-arbitraries.js';

const WATCHED = [Buffer.from('CC'), Buffer.from('BCC')];

/** What decoding throws, or undefined; compared with what scanning throws. */
function failure(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    return `${(error as Error).constructor.name}: ${(error as Error).message} ${JSON.stringify(error)}`;
  }
}

/** Properties with a headers table that may hold CC and BCC entries among others. */
const withDistribution = fc
  .tuple(propertiesArb(), fc.option(fc.array(shortString, { maxLength: 3 })), fc.option(fc.array(shortString, { maxLength: 3 })), fieldArbs().table)
  .map(([properties, cc, bcc, others]) => {
    const headers: Record<string, FieldValue> = { ...others };
    if (cc !== null) headers['CC'] = cc;
    if (bcc !== null) headers['BCC'] = bcc;
    return { ...properties, headers };
  });

describe('basic properties scan', () => {
  it('finds what a decode finds', () => {
    fc.assert(
      fc.property(fc.oneof(propertiesArb(), withDistribution), (properties) => {
        const raw = encodeBasicProperties(properties);
        const decoded = decodeBasicProperties(raw);
        const scan = scanBasicProperties(raw, WATCHED);
        assert.equal(scan.replyToAt < 0 ? undefined : shortStringAt(raw, scan.replyToAt), decoded.replyTo);
        assert.equal(scan.expirationAt < 0 ? undefined : shortStringAt(raw, scan.expirationAt), decoded.expiration);
        assert.equal(scan.userIdAt < 0 ? undefined : shortStringAt(raw, scan.userIdAt), decoded.userId);
        assert.equal(scan.priorityAt < 0 ? undefined : raw[scan.priorityAt], decoded.priority);
        assert.equal(scan.headersAt >= 0, decoded.headers !== undefined);
        const found = new Map((scan.watched ?? []).map((entry) => [WATCHED[entry.keyIndex]?.toString(), headerValueAt(raw, entry)]));
        assert.deepEqual(found.get('CC'), decoded.headers?.['CC']);
        assert.deepEqual(found.get('BCC'), decoded.headers?.['BCC']);
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it('removing header entries leaves the other properties and headers as they were', () => {
    fc.assert(
      fc.property(withDistribution, (properties) => {
        const raw = encodeBasicProperties(properties);
        const scan = scanBasicProperties(raw, WATCHED);
        const { BCC: _bcc, ...visibleHeaders } = properties.headers;
        const stripped = withoutHeaderEntries(raw, scan, (scan.watched ?? []).filter((entry) => entry.keyIndex === 1));
        assert.deepEqual(decodeBasicProperties(stripped.raw), decodeBasicProperties(encodeBasicProperties({ ...properties, headers: visibleHeaders })));
        assert.deepEqual(stripped.scan, scanBasicProperties(stripped.raw, WATCHED), 'the scan that comes with the bytes is theirs');
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('throws exactly what a decode throws on random bytes and on every truncation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const raw = Buffer.from(bytes);
        assert.equal(failure(() => scanBasicProperties(raw, WATCHED)), failure(() => decodeBasicProperties(raw)));
      }),
      { numRuns: RUNS * 20 },
    );
    fc.assert(
      fc.property(withDistribution, (properties) => {
        const raw = encodeBasicProperties(properties);
        for (let cut = 0; cut < raw.length; cut++) {
          const part = raw.subarray(0, cut);
          assert.equal(failure(() => scanBasicProperties(part, WATCHED)), failure(() => decodeBasicProperties(part)));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('throws what a decode throws on a damaged headers table', () => {
    fc.assert(
      fc.property(withDistribution, fc.nat(), fc.integer({ min: 0, max: 255 }), (properties, pick, byte) => {
        const raw = Buffer.from(encodeBasicProperties(properties));
        const at = pick % raw.length;
        raw[at] = byte;
        assert.equal(failure(() => scanBasicProperties(raw, WATCHED)), failure(() => decodeBasicProperties(raw)));
      }),
      { numRuns: RUNS * 10 },
    );
  });
});
