/**
 * When a webhook delivery is tried again, and when it is given up: exponential backoff with jitter,
 * bounded by a number of attempts and a time window, and the receiver's answer taken into account
 * as the Standard Webhooks spec suggests (2xx delivered; 410 Gone stops; Retry-After is honoured).
 */
import type { WebhookAttempt, WebhookDeliveryState } from './webhook-delivery.js';

/** How deliveries are made and retried. */
export interface WebhookDeliveryPolicy {
  /** How long one POST may take before it counts as failed (default 15 s, the spec's 15-30 s). */
  timeoutMs: number;
  /** Delay before the second attempt; each later delay doubles (default 5 s). */
  retryFirstDelayMs: number;
  /** Longest delay between two attempts (default 2 hours). */
  retryDelayMaxMs: number;
  /** Attempts in all, the first included (default 25). */
  attemptsMax: number;
  /** No attempt starts later than this after the first one (default 24 hours). */
  retryWindowMs: number;
}

/** Defaults: about 24 hours of retries, 5 s, 10 s, 20 s, ... up to every 2 hours. */
export const DEFAULT_WEBHOOK_POLICY: WebhookDeliveryPolicy = {
  timeoutMs: 15_000,
  retryFirstDelayMs: 5_000,
  retryDelayMaxMs: 2 * 60 * 60 * 1000,
  attemptsMax: 25,
  retryWindowMs: 24 * 60 * 60 * 1000,
};

/** Jitter spreads each delay over +-20%, so receivers that failed together are not retried together. */
const JITTER_FRACTION = 0.2;

/** What follows an attempt: the delivery's new state, and when the next attempt is due if pending. */
export interface AttemptDecision {
  state: WebhookDeliveryState;
  nextAttemptAt?: number;
}

/** An attempt's outcome as far as the policy cares. */
export interface AttemptOutcome {
  attempt: WebhookAttempt;
  /** Seconds the receiver asked to wait (Retry-After), if it did. */
  retryAfterSeconds?: number;
}

/**
 * What follows `outcome`, the `attemptNumber`-th attempt (1-based) of a delivery whose first attempt
 * was due at `firstAttemptAt`. `random` is injectable so tests can pin the jitter.
 */
export function decideAfterAttempt(
  policy: WebhookDeliveryPolicy,
  outcome: AttemptOutcome,
  timing: { attemptNumber: number; firstAttemptAt: number; now: number },
  random: () => number = Math.random,
): AttemptDecision {
  const { status } = outcome.attempt;
  if (status !== undefined && status >= 200 && status <= 299) return { state: 'delivered' };
  if (status === 410) return { state: 'failed' };
  if (timing.attemptNumber >= policy.attemptsMax) return { state: 'failed' };
  const backoff = retryDelayMs(policy, timing.attemptNumber, random);
  const asked = outcome.retryAfterSeconds === undefined ? 0 : Math.min(outcome.retryAfterSeconds * 1000, policy.retryDelayMaxMs);
  const nextAttemptAt = timing.now + Math.max(backoff, asked);
  if (nextAttemptAt > timing.firstAttemptAt + policy.retryWindowMs) return { state: 'failed' };
  return { state: 'pending', nextAttemptAt };
}

/** The delay after the `attemptNumber`-th failed attempt: first delay * 2^(n-1), capped, +-20% jitter. */
export function retryDelayMs(policy: WebhookDeliveryPolicy, attemptNumber: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.retryFirstDelayMs * 2 ** Math.min(attemptNumber - 1, 40), policy.retryDelayMaxMs);
  return Math.round(ceiling * (1 - JITTER_FRACTION + 2 * JITTER_FRACTION * random()));
}

/** The Retry-After header in seconds (delta-seconds or an HTTP date), or undefined when absent or unreadable. */
export function retryAfterSeconds(header: string | null, nowMs: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Number(header);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - nowMs) / 1000));
}

/** The policy with `overrides` applied; throws on a value that makes no sense. */
export function resolveWebhookPolicy(overrides: Partial<WebhookDeliveryPolicy> = {}): WebhookDeliveryPolicy {
  const policy = { ...DEFAULT_WEBHOOK_POLICY, ...overrides };
  for (const [name, value] of Object.entries(policy)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`webhook policy ${name} must be a positive integer, got ${String(value)}`);
  }
  return policy;
}
