/**
 * Publisher confirms for one channel. Every publish gets the next sequence number; a transient
 * message is confirmed as soon as it is routed, a persistent one that reached a durable queue only
 * once the message store has fsynced it. Because basic.ack with multiple=true confirms everything up
 * to a tag, later publishes wait behind an earlier one still waiting for its fsync. Acks are
 * coalesced: one basic.ack per socket write covers every publish confirmed since the last.
 */
import type { Method } from '../codec/index.js';

/** What the confirm tracker needs from its channel. */
export interface ConfirmHost {
  /** Whether the channel can still send (not closing or closed). */
  readonly open: boolean;
  send(method: Method): void;
  /** Asks the message store to call back once every message written so far is durable. */
  syncMessages(onDurable: (error: Error | undefined) => void): void;
  scheduleFlush(): void;
  /** Counts publishes confirmed (acked) to the publisher. */
  countConfirmed(count: number): void;
}

/** Confirm bookkeeping of one channel in confirm mode. */
export class PublisherConfirms {
  private sequence = 0;
  private confirmedUpTo = 0;
  private sentUpTo = 0;
  /** Highest sequence whose message was written to disk and still needs an fsync requested. */
  private unsyncedUpTo = 0;
  private syncInFlight = false;
  private syncTarget = 0;
  /** Sequences refused by a queue (x-overflow reject-publish), nacked in order once reached, ascending. */
  private rejected: number[] = [];
  private readonly onSyncedBound = (error: Error | undefined): void => this.onSynced(error);

  constructor(private readonly host: ConfirmHost) {}

  /** Publishes received but not yet confirmed. */
  get unconfirmedCount(): number {
    return this.sequence - this.confirmedUpTo;
  }

  /**
   * Records a routed publish; persisted is true when it was written to a message store, rejected when
   * a queue refused it (it is nacked, in its turn).
   */
  published(persisted: boolean, rejected = false): void {
    const sequence = ++this.sequence;
    if (rejected) this.rejected.push(sequence);
    if (persisted) this.unsyncedUpTo = sequence;
    if (this.unsyncedUpTo === 0 && !this.syncInFlight) this.confirmedUpTo = sequence;
    this.host.scheduleFlush();
  }

  /** Called right before each socket write: requests the fsync the pending publishes need, sends what is confirmed. */
  flush(): void {
    if (!this.host.open) return;
    if (this.unsyncedUpTo > 0 && !this.syncInFlight) {
      this.syncInFlight = true;
      this.syncTarget = this.sequence;
      this.unsyncedUpTo = 0;
      this.host.syncMessages(this.onSyncedBound);
    }
    this.sendAcks();
  }

  private sendAcks(): void {
    while (this.rejected.length > 0 && (this.rejected[0] as number) <= this.confirmedUpTo) {
      const refused = this.rejected.shift() as number;
      this.sendAckUpTo(refused - 1);
      this.host.send({ name: 'basicNack', deliveryTag: refused, multiple: false, requeue: false });
      this.sentUpTo = refused;
    }
    this.sendAckUpTo(this.confirmedUpTo);
  }

  private sendAckUpTo(sequence: number): void {
    if (sequence <= this.sentUpTo) return;
    const multiple = sequence - this.sentUpTo > 1;
    this.host.countConfirmed(sequence - this.sentUpTo);
    this.sentUpTo = sequence;
    this.host.send({ name: 'basicAck', deliveryTag: sequence, multiple });
  }

  private onSynced(error: Error | undefined): void {
    this.syncInFlight = false;
    if (!this.host.open) return;
    if (error !== undefined) {
      // The messages up to the target may not be on disk: what was confirmed before is acked, the rest nacked.
      this.sendAcks();
      const multiple = this.syncTarget - this.sentUpTo > 1;
      this.host.send({ name: 'basicNack', deliveryTag: this.syncTarget, multiple, requeue: false });
      this.sentUpTo = this.syncTarget;
      this.confirmedUpTo = this.syncTarget;
      this.rejected = this.rejected.filter((sequence) => sequence > this.syncTarget);
    } else {
      // With nothing written since the fsync was requested, transient publishes after the target are confirmed too.
      this.confirmedUpTo = this.unsyncedUpTo === 0 ? this.sequence : this.syncTarget;
    }
    this.host.scheduleFlush();
  }
}
