/**
 * Callback URLs and the per-endpoint secrets that sign what is POSTed to them. The keeper holds one
 * signing key; an endpoint's secret is derived from it (HMAC-SHA256 of the endpoint), so no secret
 * needs storing per endpoint, every keeper with the same key signs alike, and an operator asks the
 * keeper for the secret of the URL their receiver serves (docs/webhooks.md, "The secret").
 */
import { createHmac, randomBytes } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { TaskValidationError } from '../task-errors.js';
import { WEBHOOK_SECRET_PREFIX } from './webhook-signature.js';

/** Longest callback URL accepted. */
export const CALLBACK_URL_MAX_LENGTH = 2048;

/** Bytes of a generated signing key (the spec asks for 24 to 64). */
const SIGNING_KEY_BYTES = 32;

/** Separates what is derived from the signing key from any other use of it. */
const ENDPOINT_SECRET_CONTEXT = 'warren webhook endpoint secret v1\n';

/** The normalised callback URL, or a TaskValidationError saying what is wrong with it. */
export function parseCallbackUrl(value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.length > CALLBACK_URL_MAX_LENGTH) {
    throw new TaskValidationError(`callbackUrl must be an http or https URL of 1 to ${CALLBACK_URL_MAX_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TaskValidationError(`callbackUrl ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TaskValidationError(`callbackUrl must use http or https, not ${url.protocol.slice(0, -1)}`);
  }
  // The URL is shown on the task to everyone who may read it: credentials do not belong there, and the
  // signature already tells the receiver who sent the request.
  if (url.username !== '' || url.password !== '') throw new TaskValidationError('callbackUrl must not carry a user name or password');
  return url.href;
}

/**
 * The endpoint a callback URL belongs to: scheme, host, port and path, without query or fragment. All
 * URLs of one endpoint share a secret, so a receiver may tell tasks apart with a query string
 * (`https://app.example/hooks/warren?order=42`) and still verify every call with one secret.
 */
export function webhookEndpoint(callbackUrl: string): string {
  const url = new URL(parseCallbackUrl(callbackUrl));
  return `${url.origin}${url.pathname}`;
}

/** The Standard Webhooks secret (`whsec_<base64>`) of the endpoint `callbackUrl` belongs to. */
export function endpointSecret(signingKey: Buffer, callbackUrl: string): string {
  const key = createHmac('sha256', signingKey).update(ENDPOINT_SECRET_CONTEXT).update(webhookEndpoint(callbackUrl)).digest();
  return `${WEBHOOK_SECRET_PREFIX}${key.toString('base64')}`;
}

/** A new random signing key. */
export function newWebhookSigningKey(): Buffer {
  return randomBytes(SIGNING_KEY_BYTES);
}

/**
 * The signing key kept in the file at `path` (base64 text), created with a new random key (mode
 * 0600) when the file does not exist yet. Every keeper given the same key derives the same secrets.
 */
export async function loadWebhookSigningKey(path: string): Promise<Buffer> {
  try {
    return parseSigningKey(await readFile(path, 'utf8'), path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = newWebhookSigningKey();
  // Written in full under a temporary name, then linked into place (which fails if the file exists):
  // a reader never sees a half-written key, and of two creators at once the second reads the first's.
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, path);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return parseSigningKey(await readFile(path, 'utf8'), path);
    throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

function parseSigningKey(text: string, path: string): Buffer {
  const base64 = text.trim();
  const key = Buffer.from(base64, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || key.length < 24) {
    throw new Error(`${path} must hold a webhook signing key: at least 24 bytes, base64-encoded`);
  }
  return key;
}
