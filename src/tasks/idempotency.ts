/**
 * Idempotency keys of submits: a submit that repeats a key already claimed for the same task name
 * within the keeper's window gets the existing task back instead of creating another (BullMQ's jobId,
 * Stripe's Idempotency-Key). Keys are claimed in the result store through a keeper request.
 */
import { TaskValidationError } from './task-errors.js';

/** Longest idempotency key (Stripe's limit): 1 to 255 characters, no control characters. */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

/** How long a key is remembered by default: 24 hours from the submit that claimed it. */
export const IDEMPOTENCY_WINDOW_DEFAULT_MS = 24 * 60 * 60 * 1000;

/**
 * A claim whose task the keeper never recorded after this long is abandoned (its submitter died
 * between the claim and the publish): the next submit with the key takes it over.
 */
export const IDEMPOTENCY_ABANDONED_CLAIM_MS = 60_000;

/** Who holds a key: the task id, and whether the asking submit was a replay of an earlier one. */
export interface IdempotencyKeyOwner {
  id: string;
  replayed: boolean;
}

/** Throws TaskValidationError unless `key` is a usable idempotency key. */
export function assertIdempotencyKey(key: unknown): asserts key is string {
  // eslint-disable-next-line no-control-regex
  if (typeof key !== 'string' || key === '' || key.length > IDEMPOTENCY_KEY_MAX_LENGTH || /[\u0000-\u001f\u007f]/.test(key)) {
    throw new TaskValidationError(
      `an idempotency key must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} characters without control characters, got ${JSON.stringify(typeof key === 'string' && key.length > 40 ? `${key.slice(0, 40)}...` : key)}`,
    );
  }
}
