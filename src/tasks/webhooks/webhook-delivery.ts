/**
 * What a result store keeps about webhook deliveries (docs/webhooks.md): one delivery per run of a
 * task that finished with a callbackUrl, its attempts, and a lease that lets exactly one keeper make
 * each attempt. Every ResultStore offers these operations as `store.webhooks`.
 */

/** Where a delivery stands: pending (an attempt is due or running), delivered (a 2xx came back), failed (given up). */
export type WebhookDeliveryState = 'pending' | 'delivered' | 'failed';

/** One POST of a delivery. */
export interface WebhookAttempt {
  /** When the attempt started, ms since the epoch. */
  at: number;
  /** How long until the answer (or the error), ms. */
  durationMs: number;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** Why there was no answer (timeout, connection refused...), when there was none. */
  error?: string;
}

/** A webhook delivery as stored. */
export interface WebhookDelivery {
  taskId: string;
  run: number;
  /** The callback URL. */
  url: string;
  /** The webhook-id header: the same for every attempt of this delivery. */
  messageId: string;
  /** The payload's type, e.g. task.succeeded. */
  eventType: string;
  /** The JSON text POSTed (the same for every attempt). */
  body: string;
  state: WebhookDeliveryState;
  attempts: WebhookAttempt[];
  /** When the next attempt is due, while pending, ms since the epoch. */
  nextAttemptAt?: number;
  createdAt: number;
}

/** A delivery not stored yet. */
export type NewWebhookDelivery = Omit<WebhookDelivery, 'state' | 'attempts' | 'nextAttemptAt'> & { nextAttemptAt: number };

/** A claim on due deliveries: each one claimed is leased to `leaseToken` until `leaseUntil`. */
export interface WebhookClaim {
  now: number;
  leaseUntil: number;
  leaseToken: string;
  limit: number;
}

/** An attempt's outcome, written only while the lease is still `leaseToken`'s. */
export interface WebhookAttemptRecord {
  taskId: string;
  run: number;
  leaseToken: string;
  attempt: WebhookAttempt;
  state: WebhookDeliveryState;
  /** When the next attempt is due (state pending). */
  nextAttemptAt?: number;
}

/** Identifies a leased delivery. */
export interface WebhookLease {
  taskId: string;
  run: number;
  leaseToken: string;
}

/** Webhook deliveries in a result store. */
export interface WebhookDeliveryStore {
  /** Stores a pending delivery unless the task's run already has one; true when it was added. */
  add(delivery: NewWebhookDelivery): Promise<boolean>;
  /**
   * Leases up to `limit` pending deliveries that are due (nextAttemptAt <= now) and not leased (or
   * whose lease ran out) to `leaseToken`; no two claims get the same delivery while its lease runs.
   */
  claim(claim: WebhookClaim): Promise<WebhookDelivery[]>;
  /** Appends an attempt and sets the new state, releasing the lease; false when the lease was lost. */
  recordAttempt(record: WebhookAttemptRecord): Promise<boolean>;
  /** Gives a leased delivery back without an attempt (the keeper is closing). */
  release(lease: WebhookLease): Promise<void>;
  /** The delivery of the task's latest run that has one, if any. */
  latest(taskId: string): Promise<WebhookDelivery | undefined>;
}

/** The webhook of a task as its record shows it (TaskRecord.webhook). */
export interface WebhookStatus {
  url: string;
  /** The run it reports (a manual retry starts a new run, with a new delivery when it finishes). */
  run: number;
  /** The webhook-id header of its requests. */
  id: string;
  /** The payload's type, e.g. task.succeeded. */
  type: string;
  state: WebhookDeliveryState;
  attempts: WebhookAttempt[];
  /** When the next attempt is due, while pending. */
  nextAttemptAt?: number;
}

/** The status a delivery shows on its task. */
export function webhookStatus(delivery: WebhookDelivery): WebhookStatus {
  const status: WebhookStatus = {
    url: delivery.url,
    run: delivery.run,
    id: delivery.messageId,
    type: delivery.eventType,
    state: delivery.state,
    attempts: delivery.attempts,
  };
  if (delivery.state === 'pending' && delivery.nextAttemptAt !== undefined) status.nextAttemptAt = delivery.nextAttemptAt;
  return status;
}
