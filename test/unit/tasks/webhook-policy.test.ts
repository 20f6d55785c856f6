/** When a webhook delivery is retried and when it is given up (src/tasks/webhooks/webhook-policy.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_WEBHOOK_POLICY, decideAfterAttempt, resolveWebhookPolicy, retryAfterSeconds, retryDelayMs } from '../../../src/tasks/webhooks/webhook-policy.js';

const policy = resolveWebhookPolicy({ retryFirstDelayMs: 1000, retryDelayMaxMs: 8000, attemptsMax: 10, retryWindowMs: 60_000 });
const middle = (): number => 0.5;
const at = (status: number | undefined) => ({ attempt: { at: 0, durationMs: 1, ...(status === undefined ? { error: 'ECONNREFUSED' } : { status }) } });

test('a 2xx delivers; 410 gives up at once; other answers and errors are retried', () => {
  const timing = { attemptNumber: 1, firstAttemptAt: 0, now: 0 };
  assert.deepEqual(decideAfterAttempt(policy, at(200), timing), { state: 'delivered' });
  assert.deepEqual(decideAfterAttempt(policy, at(204), timing), { state: 'delivered' });
  assert.deepEqual(decideAfterAttempt(policy, at(410), timing), { state: 'failed' });
  for (const status of [301, 400, 429, 500, undefined]) {
    assert.deepEqual(decideAfterAttempt(policy, at(status), timing, middle), { state: 'pending', nextAttemptAt: 1000 }, String(status));
  }
});

test('delays double from the first, are capped, and jitter stays within 20%', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(policy, n, middle)), [1000, 2000, 4000, 8000, 8000, 8000]);
  assert.equal(retryDelayMs(policy, 1, () => 0), 800);
  assert.equal(retryDelayMs(policy, 1, () => 0.999999), 1200);
  assert.equal(retryDelayMs(DEFAULT_WEBHOOK_POLICY, 1, middle), 5000);
});

test('gives up after attemptsMax attempts or beyond the retry window', () => {
  assert.deepEqual(decideAfterAttempt(policy, at(500), { attemptNumber: 10, firstAttemptAt: 0, now: 0 }, middle), { state: 'failed' });
  assert.deepEqual(decideAfterAttempt(policy, at(500), { attemptNumber: 3, firstAttemptAt: 0, now: 57_000 }, middle), { state: 'failed' });
  assert.deepEqual(decideAfterAttempt(policy, at(500), { attemptNumber: 3, firstAttemptAt: 0, now: 55_000 }, middle), { state: 'pending', nextAttemptAt: 59_000 });
});

test('Retry-After lengthens a delay (capped at the longest delay), never shortens it', () => {
  const timing = { attemptNumber: 1, firstAttemptAt: 0, now: 0 };
  assert.deepEqual(decideAfterAttempt(policy, { ...at(503), retryAfterSeconds: 3 }, timing, middle), { state: 'pending', nextAttemptAt: 3000 });
  assert.deepEqual(decideAfterAttempt(policy, { ...at(429), retryAfterSeconds: 3600 }, timing, middle), { state: 'pending', nextAttemptAt: 8000 });
  assert.deepEqual(decideAfterAttempt(policy, { ...at(503), retryAfterSeconds: 0 }, timing, middle), { state: 'pending', nextAttemptAt: 1000 });
  assert.equal(retryAfterSeconds('7', 0), 7);
  assert.equal(retryAfterSeconds(new Date(10_000).toUTCString(), 0), 10);
  assert.equal(retryAfterSeconds('soon', 0), undefined);
  assert.equal(retryAfterSeconds(null, 0), undefined);
});

test('a policy value that makes no sense is refused', () => {
  assert.throws(() => resolveWebhookPolicy({ attemptsMax: 0 }), /attemptsMax/);
  assert.throws(() => resolveWebhookPolicy({ timeoutMs: 1.5 }), /timeoutMs/);
});
