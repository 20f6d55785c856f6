/**
 * RabbitMQ's rabbit_password_hashing_sha256 format: base64(4-byte salt ++ SHA-256(salt ++ UTF-8 password)).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { hashPassword, isPasswordHash, passwordMatches } from '../../../src/broker/password-hash.js';

test('a known salt and password give the published RabbitMQ hash', () => {
  // The worked example for SHA-256 circulated with RabbitMQ's password docs: salt 908DC60A, password "test12".
  assert.equal(hashPassword('test12', Buffer.from('908dc60a', 'hex')), 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR');
});

test('the hash is base64 of the salt followed by SHA-256 of salt and UTF-8 password', () => {
  const salt = Buffer.from([0xca, 0xd5, 0x08, 0x9b]);
  const password = 'pässwörd \u{1f407}';
  const digest = createHash('sha256').update(Buffer.concat([salt, Buffer.from(password, 'utf8')])).digest();
  const expected = Buffer.concat([salt, digest]).toString('base64');
  assert.equal(hashPassword(password, salt), expected);
  assert.equal(Buffer.from(expected, 'base64').length, 36);
  assert.equal(passwordMatches(password, expected), true);
});

test('every hash gets a fresh random salt, and each still matches its password', () => {
  const first = hashPassword('secret');
  const second = hashPassword('secret');
  assert.notEqual(first, second);
  assert.equal(passwordMatches('secret', first), true);
  assert.equal(passwordMatches('secret', second), true);
  assert.equal(isPasswordHash(first), true);
});

test('wrong passwords, empty hashes and malformed hashes never match', () => {
  const hash = hashPassword('secret');
  assert.equal(passwordMatches('Secret', hash), false);
  assert.equal(passwordMatches('', hash), false);
  assert.equal(passwordMatches('', ''), false, 'an empty hash disables password login');
  const bytes = Buffer.from(hash, 'base64');
  for (const malformed of [bytes.subarray(0, 35).toString('base64'), Buffer.concat([bytes, Buffer.from([0])]).toString('base64'), `${hash}=`, hash.replace(/=*$/, ' ')]) {
    assert.equal(isPasswordHash(malformed), false, malformed);
    assert.equal(passwordMatches('secret', malformed), false, malformed);
  }
  assert.throws(() => hashPassword('secret', Buffer.alloc(3)), /4 bytes/);
});
