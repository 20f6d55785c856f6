/**
 * The keeper's webhook sender. When the keeper records that a task with a callbackUrl finished, it
 * stores a pending delivery (before acknowledging the event, so a crash loses none); the dispatcher
 * then claims due deliveries from the store, POSTs them signed per Standard Webhooks, records every
 * attempt, and schedules the next one with backoff until a 2xx comes back or the policy gives up.
 * Claims are leases in the store, so with several keepers on one store each attempt is made once,
 * and a keeper that restarts (or another one) picks up what was pending.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../util/logger.js';
import { TERMINAL_STATES } from '../protocol.js';
import type { TaskRecord } from '../store/result-store.js';
import { parseCallbackUrl, endpointSecret, newWebhookSigningKey } from './webhook-endpoint.js';
import { webhookStatus, type WebhookDelivery, type WebhookDeliveryStore } from './webhook-delivery.js';
import { decideAfterAttempt, resolveWebhookPolicy, retryAfterSeconds, type AttemptOutcome, type WebhookDeliveryPolicy } from './webhook-policy.js';
import { signWebhook, webhookSecretKey } from './webhook-signature.js';
import { DeadlineTimer } from '../../util/deadline-timer.js';

/** Webhook settings of a keeper (KeeperOptions.webhooks). */
export interface WebhookOptions {
  /**
   * The key endpoint secrets are derived from (bytes, or base64 text): give every keeper of one store
   * the same key (`warren server` keeps it in <data dir>/webhook-signing-key). Without one the keeper
   * makes a random key, and endpoint secrets change whenever it restarts.
   */
  signingKey?: Buffer | string;
  /** Timeout, backoff and limits of deliveries (defaults: DEFAULT_WEBHOOK_POLICY). */
  policy?: Partial<WebhookDeliveryPolicy>;
  /** The task as the payload's `data` shows it (default: the record as stored); `warren server` uses the HTTP view. */
  view?: (record: TaskRecord) => unknown;
  /** How often the store is asked for due deliveries made elsewhere or left by a stopped keeper (default 1000 ms). */
  pollIntervalMs?: number;
  /** Most POSTs in flight at once (default 16). */
  concurrency?: number;
}

/** The User-Agent of webhook requests. */
export const WEBHOOK_USER_AGENT = 'warren-webhooks/1';

const POLL_INTERVAL_DEFAULT_MS = 1000;
const CONCURRENCY_DEFAULT = 16;
/** A lease outlives the attempt's timeout by this much, so it only runs out when its keeper died. */
const LEASE_MARGIN_MS = 30_000;

/** Sends the webhooks of finished tasks (see the file comment). */
export class WebhookDispatcher {
  private readonly policy: WebhookDeliveryPolicy;
  private readonly signingKey: Buffer;
  private readonly view: (record: TaskRecord) => unknown;
  private readonly pollIntervalMs: number;
  private readonly concurrency: number;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly closing = new AbortController();
  private closed = false;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  /** The next pump: the earliest of the next poll and the next delivery due. */
  private readonly timer = new DeadlineTimer(() => this.pump());

  constructor(
    private readonly store: WebhookDeliveryStore,
    options: WebhookOptions,
    private readonly logger: Logger,
  ) {
    this.policy = resolveWebhookPolicy(options.policy);
    this.view = options.view ?? ((record) => record);
    this.pollIntervalMs = options.pollIntervalMs ?? POLL_INTERVAL_DEFAULT_MS;
    this.concurrency = options.concurrency ?? CONCURRENCY_DEFAULT;
    const { signingKey } = options;
    if (signingKey === undefined) {
      this.logger.warn({}, 'no webhook signing key configured: endpoint secrets change when this keeper restarts');
      this.signingKey = newWebhookSigningKey();
    } else {
      this.signingKey = typeof signingKey === 'string' ? webhookSecretKey(signingKey) : signingKey;
    }
  }

  /** Starts looking for due deliveries (those left pending by an earlier run first). */
  start(): void {
    this.pump();
  }

  /** The secret (`whsec_...`) that signs what is POSTed to `callbackUrl`; throws TaskValidationError on a bad URL. */
  secretFor(callbackUrl: string): string {
    return endpointSecret(this.signingKey, callbackUrl);
  }

  /**
   * Called with every record the keeper stored: a finished task with a callbackUrl gets its run's
   * delivery (once; later calls for the same run change nothing). Rejects when the store does, so the
   * keeper requeues the event instead of losing the delivery. Returns undefined, not a promise, when
   * the record needs no delivery (nearly every event): the keeper then goes on at once.
   */
  taskChanged(record: TaskRecord): Promise<void> | undefined {
    const requested = record.options.callbackUrl;
    if (requested === undefined || !TERMINAL_STATES.includes(record.state)) return undefined;
    return this.addDelivery(record, requested);
  }

  private async addDelivery(record: TaskRecord, requested: string): Promise<void> {
    let url: string;
    try {
      url = parseCallbackUrl(requested);
    } catch (error) {
      // The URL came from a submitter over AMQP: a bad one is dropped, never sent to.
      this.logger.warn({ id: record.id, err: (error as Error).message }, 'task has an unusable callbackUrl; no webhook sent');
      return;
    }
    const eventType = `task.${record.state}`;
    const body = JSON.stringify({ type: eventType, timestamp: new Date(record.finishedAt ?? record.updatedAt).toISOString(), data: this.view(record) });
    const now = Date.now();
    const messageId = `msg_${randomUUID().replaceAll('-', '')}`;
    const added = await this.store.add({ taskId: record.id, run: record.run, url, messageId, eventType, body, nextAttemptAt: now, createdAt: now });
    if (added) this.wake(now);
  }

  /** `record` with the webhook status of its latest delivery, if it has one. */
  async withStatus(record: TaskRecord): Promise<TaskRecord> {
    if (record.options.callbackUrl === undefined) return record;
    const delivery = await this.store.latest(record.id);
    return delivery === undefined ? record : { ...record, webhook: webhookStatus(delivery) };
  }

  /** Stops sending: in-flight POSTs are aborted and their deliveries released for whoever runs next. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer.clear();
    this.closing.abort(new Error('the keeper is closing'));
    await this.pumping;
    await Promise.all(this.inFlight);
  }

  /** Runs a claim round now, or right after the one running. */
  private pump(): void {
    if (this.closed) return;
    if (this.pumping !== undefined) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.claimDue().finally(() => {
      this.pumping = undefined;
      this.wake(Date.now() + this.pollIntervalMs);
      if (this.pumpAgain) {
        this.pumpAgain = false;
        this.pump();
      }
    });
  }

  /** Pumps at `at` (ms since the epoch) unless a pump is already due sooner. */
  private wake(at: number): void {
    if (!this.closed) this.timer.armBy(at);
  }

  /** Claims as many due deliveries as there are free slots and starts sending them. */
  private async claimDue(): Promise<void> {
    const free = this.concurrency - this.inFlight.size;
    if (free <= 0) return;
    const now = Date.now();
    const leaseToken = randomUUID();
    let claimed: WebhookDelivery[];
    try {
      claimed = await this.store.claim({ now, leaseUntil: now + this.policy.timeoutMs + LEASE_MARGIN_MS, leaseToken, limit: free });
    } catch (error) {
      if (!this.closed) this.logger.error({ err: (error as Error).message }, 'could not claim webhook deliveries');
      return;
    }
    for (const delivery of claimed) {
      const sending = this.send(delivery, leaseToken).finally(() => {
        this.inFlight.delete(sending);
        this.pump();
      });
      this.inFlight.add(sending);
    }
    if (claimed.length === free) this.pumpAgain = true;
  }

  /** Makes one attempt and records it (or, when the keeper is closing, gives the delivery back); never throws. */
  private async send(delivery: WebhookDelivery, leaseToken: string): Promise<void> {
    const lease = { taskId: delivery.taskId, run: delivery.run, leaseToken };
    const outcome = await this.post(delivery);
    if (outcome === undefined) {
      await this.store.release(lease).catch(() => {});
      return;
    }
    const attemptNumber = delivery.attempts.length + 1;
    const decision = decideAfterAttempt(this.policy, outcome, { attemptNumber, firstAttemptAt: delivery.createdAt, now: Date.now() });
    try {
      const recorded = await this.store.recordAttempt({ ...lease, attempt: outcome.attempt, ...decision });
      if (!recorded) this.logger.warn({ id: delivery.taskId, run: delivery.run }, 'webhook lease lost before its attempt was recorded');
    } catch (error) {
      this.logger.error({ id: delivery.taskId, err: (error as Error).message }, 'could not record a webhook attempt; it will be made again');
      return;
    }
    const { status, error } = outcome.attempt;
    this.logger.debug({ id: delivery.taskId, url: delivery.url, attempt: attemptNumber, status, error, state: decision.state }, 'webhook attempt');
    if (decision.state === 'failed') this.logger.warn({ id: delivery.taskId, url: delivery.url, attempts: attemptNumber }, 'webhook delivery given up');
    if (decision.nextAttemptAt !== undefined) this.wake(decision.nextAttemptAt);
  }

  /** POSTs the delivery once; undefined when aborted because the keeper is closing. */
  private async post(delivery: WebhookDelivery): Promise<AttemptOutcome | undefined> {
    const at = Date.now();
    try {
      const secret = webhookSecretKey(this.secretFor(delivery.url));
      const signature = signWebhook(secret, delivery.messageId, Math.floor(at / 1000), delivery.body);
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': WEBHOOK_USER_AGENT, ...signature },
        body: delivery.body,
        // A redirect is a failure (the spec's advice): the URL should be fixed instead.
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.policy.timeoutMs), this.closing.signal]),
      });
      // The answer's body is of no interest; dropping it frees the connection.
      await response.body?.cancel().catch(() => {});
      const attempt = { at, durationMs: Date.now() - at, status: response.status };
      const retryAfter = retryAfterSeconds(response.headers.get('retry-after'), Date.now());
      return retryAfter === undefined ? { attempt } : { attempt, retryAfterSeconds: retryAfter };
    } catch (error) {
      if (this.closing.signal.aborted) return undefined;
      return { attempt: { at, durationMs: Date.now() - at, error: describeFailure(error, this.policy.timeoutMs) } };
    }
  }
}

/** A short reason for an attempt without an answer: timeout, connection refused, DNS... */
function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return typeof cause.message === 'string' ? `${cause.code}: ${cause.message}` : cause.code;
  return error instanceof Error ? error.message : String(error);
}
