/**
 * Password hashes in RabbitMQ's rabbit_password_hashing_sha256 format (its default):
 * base64(salt ++ SHA-256(salt ++ UTF-8 password)) with a random 4-byte salt. Hashes exported from
 * RabbitMQ (definitions.json `password_hash`) therefore work in Warren and the other way round.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Bytes of salt in front of the digest (RabbitMQ's 32-bit salt). */
const SALT_BYTES = 4;
/** Bytes of a SHA-256 digest. */
const DIGEST_BYTES = 32;

/** Hashes a password with the given salt (random when omitted). */
export function hashPassword(password: string, salt: Buffer = randomBytes(SALT_BYTES)): string {
  if (salt.length !== SALT_BYTES) throw new RangeError(`a password salt is ${SALT_BYTES} bytes, got ${salt.length}`);
  return Buffer.concat([salt, saltedDigest(salt, password)]).toString('base64');
}

/**
 * True when the text is a well-formed hash: canonical base64 of exactly salt and digest. The empty
 * string is not; a user whose hash is '' cannot log in with a password (as in RabbitMQ).
 */
export function isPasswordHash(text: string): boolean {
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === SALT_BYTES + DIGEST_BYTES && bytes.toString('base64') === text;
}

/** True when the password matches the hash; the digests are compared in constant time. */
export function passwordMatches(password: string, passwordHash: string): boolean {
  if (!isPasswordHash(passwordHash)) return false;
  const bytes = Buffer.from(passwordHash, 'base64');
  const salt = bytes.subarray(0, SALT_BYTES);
  return timingSafeEqual(bytes.subarray(SALT_BYTES), saltedDigest(salt, password));
}

function saltedDigest(salt: Buffer, password: string): Buffer {
  return createHash('sha256').update(salt).update(password, 'utf8').digest();
}
