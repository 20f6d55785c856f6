/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, symmetric scheme): the sender signs
 * `${webhook-id}.${webhook-timestamp}.${body}` with HMAC-SHA256 under the endpoint's secret
 * (`whsec_` + base64 of the key bytes) and sends `v1,<base64 signature>` in webhook-signature. This
 * file signs (the keeper) and verifies (receivers: verifyWebhook is exported from the package).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Prefix of a serialised Standard Webhooks symmetric secret. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** How far a webhook-timestamp may be from the receiver's clock by default (the spec's 5 minutes). */
export const WEBHOOK_TOLERANCE_DEFAULT_SECONDS = 5 * 60;

/** The three headers of a signed delivery (a type alias, so it passes as any headers record). */
export type WebhookSignatureHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/** Why verifyWebhook refused a request. */
export type WebhookVerificationProblem = 'missing_header' | 'bad_timestamp' | 'timestamp_too_old' | 'timestamp_too_new' | 'bad_signature' | 'bad_secret' | 'bad_payload';

/** A webhook that must not be trusted: `problem` says why. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly problem: WebhookVerificationProblem,
    message: string,
  ) {
    super(message);
  }
}

/** Options of verifyWebhook. */
export interface VerifyWebhookOptions {
  /** Largest difference between webhook-timestamp and now, in seconds (default 300). */
  toleranceSeconds?: number;
  /** The receiver's clock, ms since the epoch (default Date.now()); for tests. */
  nowMs?: number;
}

/** Headers as node:http (IncomingHttpHeaders), fetch (Headers) or a plain object give them. */
export type WebhookRequestHeaders = Headers | Record<string, string | string[] | undefined>;

/** The HMAC key a `whsec_...` secret (or a bare base64 secret) stands for. */
export function webhookSecretKey(secret: string): Buffer {
  const base64 = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw new WebhookVerificationError('bad_secret', 'a webhook secret is whsec_ followed by base64');
  const key = Buffer.from(base64, 'base64');
  if (key.length === 0) throw new WebhookVerificationError('bad_secret', 'the webhook secret is empty');
  return key;
}

/** The `v1,<base64>` signature of one delivery. */
export function webhookSignature(secret: string | Buffer, id: string, timestampSeconds: number, body: string | Buffer): string {
  const key = typeof secret === 'string' ? webhookSecretKey(secret) : secret;
  const hmac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body);
  return `v1,${hmac.digest('base64')}`;
}

/** The headers that sign `body` as message `id` at `timestampSeconds`. */
export function signWebhook(secret: string | Buffer, id: string, timestampSeconds: number, body: string): WebhookSignatureHeaders {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': webhookSignature(secret, id, timestampSeconds, body),
  };
}

/**
 * Checks a received webhook and returns its parsed JSON payload. Throws WebhookVerificationError when
 * a header is missing, the timestamp is further than `toleranceSeconds` from now (a replay), or no
 * `v1` signature in webhook-signature matches (compared in constant time). Pass the raw body exactly
 * as received: parsing and re-serialising JSON changes the signed bytes.
 */
export function verifyWebhook(secret: string, headers: WebhookRequestHeaders, rawBody: string | Buffer, options: VerifyWebhookOptions = {}): unknown {
  const id = headerValue(headers, 'webhook-id');
  const timestampText = headerValue(headers, 'webhook-timestamp');
  const signatures = headerValue(headers, 'webhook-signature');
  if (!/^[0-9]{1,15}$/.test(timestampText)) throw new WebhookVerificationError('bad_timestamp', `webhook-timestamp must be unix seconds, got ${JSON.stringify(timestampText)}`);
  const timestamp = Number(timestampText);
  const toleranceSeconds = options.toleranceSeconds ?? WEBHOOK_TOLERANCE_DEFAULT_SECONDS;
  const nowSeconds = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (timestamp < nowSeconds - toleranceSeconds) throw new WebhookVerificationError('timestamp_too_old', `webhook-timestamp ${timestamp} is more than ${toleranceSeconds} s in the past`);
  if (timestamp > nowSeconds + toleranceSeconds) throw new WebhookVerificationError('timestamp_too_new', `webhook-timestamp ${timestamp} is more than ${toleranceSeconds} s in the future`);
  const expected = Buffer.from(webhookSignature(secret, id, timestamp, rawBody).slice('v1,'.length), 'base64');
  if (!signatures.split(' ').some((candidate) => matches(candidate, expected))) {
    throw new WebhookVerificationError('bad_signature', 'no webhook-signature matches the body and the secret');
  }
  try {
    return JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8')) as unknown;
  } catch (error) {
    throw new WebhookVerificationError('bad_payload', `the signed body is not JSON: ${(error as Error).message}`);
  }
}

/** True when `candidate` is `v1,<base64>` of exactly `expected`, compared in constant time. */
function matches(candidate: string, expected: Buffer): boolean {
  const comma = candidate.indexOf(',');
  if (comma < 0 || candidate.slice(0, comma) !== 'v1') return false;
  const given = Buffer.from(candidate.slice(comma + 1), 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A header's value (the first, if repeated); throws when it is absent or empty. */
function headerValue(headers: WebhookRequestHeaders, name: keyof WebhookSignatureHeaders): string {
  const raw = headers instanceof Headers ? headers.get(name) : (headers[name] ?? findCaseInsensitive(headers, name));
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (typeof value !== 'string' || value === '') throw new WebhookVerificationError('missing_header', `the ${name} header is missing`);
  return value;
}

function findCaseInsensitive(headers: Record<string, string | string[] | undefined>, name: string): string | string[] | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}
