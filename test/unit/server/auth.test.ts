import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCredentials } from '../../../src/server/auth.js';

test('PLAIN responses yield the authentication identity and password', () => {
  assert.deepEqual(parseCredentials('PLAIN', Buffer.from('\u0000guest\u0000pw')), { username: 'guest', password: 'pw' });
  assert.deepEqual(parseCredentials('PLAIN', Buffer.from('admin\u0000bob\u0000pw')), { username: 'bob', password: 'pw' });
  assert.equal(parseCredentials('PLAIN', Buffer.from('guest')), undefined);
});

test('AMQPLAIN responses are a length-less field table', () => {
  const entry = (key: string, value: string): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(Buffer.byteLength(value));
    return Buffer.concat([Buffer.from([key.length]), Buffer.from(key), Buffer.from('S'), length, Buffer.from(value)]);
  };
  const response = Buffer.concat([entry('LOGIN', 'guest'), entry('PASSWORD', 'secret')]);
  assert.deepEqual(parseCredentials('AMQPLAIN', response), { username: 'guest', password: 'secret' });
  assert.equal(parseCredentials('AMQPLAIN', response.subarray(0, 10)), undefined);
  assert.equal(parseCredentials('EXTERNAL', response), undefined);
});
