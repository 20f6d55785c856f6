/**
 * CRC-32C against published vectors (the classic check value and RFC 3720 appendix B.4) and against
 * a bit-at-a-time reference on random data, including continuation across splits.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc32c } from '../../../src/storage/crc32c.js';

function reference(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

test('crc32c of "123456789" is the check value 0xE3069283', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
});

test('crc32c of the empty input is 0', () => {
  assert.equal(crc32c(Buffer.alloc(0)), 0);
});

test('crc32c matches the RFC 3720 (iSCSI) appendix B.4 vectors', () => {
  const ascending = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const descending = Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i));
  // An iSCSI SCSI Read (10) command PDU, listed four bytes per row in the RFC.
  const readCommand = Buffer.from(
    ['01c00000', '00000000', '00000000', '00000000', '14000000', '00000400', '00000014', '00000018', '28000000', '00000000', '02000000', '00000000'].join(''),
    'hex',
  );
  assert.equal(crc32c(Buffer.alloc(32, 0x00)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(ascending), 0x46dd794e);
  assert.equal(crc32c(descending), 0x113fdb5c);
  assert.equal(crc32c(readCommand), 0xd9963a56);
});

test('crc32c honours start and end', () => {
  const data = Buffer.from('xx123456789yy');
  assert.equal(crc32c(data, 2, 11), 0xe3069283);
});

test('crc32c equals a bitwise reference and continues across any split', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
      const data = Buffer.from(bytes);
      const expected = reference(data);
      assert.equal(crc32c(data), expected);
      const at = data.length === 0 ? 0 : cut % (data.length + 1);
      assert.equal(crc32c(data, at, data.length, crc32c(data, 0, at)), expected);
    }),
  );
});
