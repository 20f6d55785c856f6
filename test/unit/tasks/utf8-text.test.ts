/**
 * utf8Text (src/tasks/task-message.ts) decodes message bodies as Buffer.toString('utf8') does, for any
 * bytes: a byte-order mark is kept (JSON.parse then refuses it, as before), bad bytes become U+FFFD,
 * and a view into a larger buffer decodes only its own bytes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseJsonBody, utf8Text } from '../../../src/tasks/task-message.js';

test('utf8Text gives what Buffer.toString gives, for any bytes, in place', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 16 }), fc.nat({ max: 16 }), (bytes, before, after) => {
      const backing = new Uint8Array(before + bytes.length + after).fill(0x41);
      backing.set(bytes, before);
      const view = backing.subarray(before, before + bytes.length);
      assert.equal(utf8Text(view), Buffer.from(bytes).toString('utf8'));
    }),
  );
  assert.equal(utf8Text(new Uint8Array(Buffer.from('\ufeff{}'))), '\ufeff{}', 'the byte-order mark stays');
  assert.throws(() => parseJsonBody(new Uint8Array(Buffer.from('\ufeff{}'))), SyntaxError);
  assert.deepEqual(parseJsonBody(new Uint8Array(Buffer.from('{"name":"日本"}'))), { name: '日本' });
});
