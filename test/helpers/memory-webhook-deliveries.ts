/**
 * Webhook deliveries in memory, for MemoryResultStore: the same leasing rules as the SQL stores
 * (a due, unleased delivery is claimed once; only the lease holder records an attempt).
 */
import type {
  NewWebhookDelivery,
  WebhookAttemptRecord,
  WebhookClaim,
  WebhookDelivery,
  WebhookDeliveryStore,
  WebhookLease,
} from '../../src/tasks/webhooks/webhook-delivery.js';

interface Leased {
  delivery: WebhookDelivery;
  leaseToken?: string;
  leaseUntil?: number;
}

/** A WebhookDeliveryStore in a map. */
export class MemoryWebhookDeliveries implements WebhookDeliveryStore {
  private readonly deliveries = new Map<string, Leased>();

  async add(delivery: NewWebhookDelivery): Promise<boolean> {
    const key = `${delivery.taskId}\n${delivery.run}`;
    if (this.deliveries.has(key)) return false;
    this.deliveries.set(key, { delivery: { ...structuredClone(delivery), state: 'pending', attempts: [] } });
    return true;
  }

  async claim(claim: WebhookClaim): Promise<WebhookDelivery[]> {
    const due = [...this.deliveries.values()]
      .filter(({ delivery, leaseUntil }) => delivery.state === 'pending' && (delivery.nextAttemptAt ?? Infinity) <= claim.now && (leaseUntil ?? 0) <= claim.now)
      .sort((a, b) => (a.delivery.nextAttemptAt ?? 0) - (b.delivery.nextAttemptAt ?? 0))
      .slice(0, claim.limit);
    for (const leased of due) Object.assign(leased, { leaseToken: claim.leaseToken, leaseUntil: claim.leaseUntil });
    return due.map(({ delivery }) => structuredClone(delivery));
  }

  async recordAttempt(record: WebhookAttemptRecord): Promise<boolean> {
    const leased = this.deliveries.get(`${record.taskId}\n${record.run}`);
    if (leased === undefined || leased.leaseToken !== record.leaseToken) return false;
    const { delivery } = leased;
    delivery.attempts.push(structuredClone(record.attempt));
    delivery.state = record.state;
    if (record.nextAttemptAt === undefined) delete delivery.nextAttemptAt;
    else delivery.nextAttemptAt = record.nextAttemptAt;
    delete leased.leaseToken;
    delete leased.leaseUntil;
    return true;
  }

  async release(lease: WebhookLease): Promise<void> {
    const leased = this.deliveries.get(`${lease.taskId}\n${lease.run}`);
    if (leased === undefined || leased.leaseToken !== lease.leaseToken) return;
    delete leased.leaseToken;
    delete leased.leaseUntil;
  }

  async latest(taskId: string): Promise<WebhookDelivery | undefined> {
    const runs = [...this.deliveries.values()].filter(({ delivery }) => delivery.taskId === taskId).sort((a, b) => b.delivery.run - a.delivery.run);
    return runs[0] === undefined ? undefined : structuredClone(runs[0].delivery);
  }
}
