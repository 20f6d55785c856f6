/**
 * What a transactional channel (tx.select) holds back until tx.commit: its publishes, already routed
 * (RabbitMQ routes at publish time too), and the acks, rejects and nacks of its deliveries. A commit
 * applies them in order; a rollback drops the publishes and leaves the deliveries unacknowledged, as
 * they were before the acks.
 */
import type { Message } from '../broker/message.js';
import type { Queue } from '../broker/queue.js';
import type { UnackedDelivery } from './unacked.js';

/** A publish held back until commit, with the queues it was routed to. */
export interface HeldPublish {
  queues: Queue[];
  message: Message;
  mandatory: boolean;
}

/** How a settlement settles: acknowledged ('ack'), or rejected with or without requeue. */
export type Settlement = boolean | 'ack';

/** What a commit needs of its channel. */
export interface TransactionChannel {
  /** Enqueues a routed publish; true when it was written to a message store. */
  deliverRouted(queues: readonly Queue[], message: Message, mandatory: boolean): boolean;
  /** Settles deliveries now. */
  apply(deliveries: UnackedDelivery[], settlement: Settlement): void;
  /** Calls back once every message written so far is on disk (or writing it failed). */
  syncMessages(done: (error: Error | undefined) => void): void;
  /** Sends tx.commit-ok, or closes the connection when the commit could not be written. */
  committed(error: Error | undefined): void;
}

/** The publishes and settlements of one open transaction. */
export class ChannelTransaction {
  private publishes: HeldPublish[] = [];
  private settlements: { deliveries: UnackedDelivery[]; settlement: Settlement }[] = [];

  holdPublish(publish: HeldPublish): void {
    this.publishes.push(publish);
  }

  holdSettlement(deliveries: UnackedDelivery[], settlement: Settlement): void {
    this.settlements.push({ deliveries, settlement });
  }

  /**
   * tx.commit: applies what was held, in order. As in RabbitMQ, commit-ok means the transaction's
   * persistent messages and acks are on disk, so it waits for a sync when anything touched a store.
   */
  commit(channel: TransactionChannel): void {
    const { publishes, settlements } = this;
    this.publishes = [];
    this.settlements = [];
    let persisted = false;
    for (const { queues, message, mandatory } of publishes) persisted = channel.deliverRouted(queues, message, mandatory) || persisted;
    for (const { deliveries, settlement } of settlements) {
      channel.apply(deliveries, settlement);
      persisted ||= deliveries.some((delivery) => delivery.entry.location !== undefined);
    }
    if (persisted) channel.syncMessages((error) => channel.committed(error));
    else channel.committed(undefined);
  }

  /** tx.rollback, or the channel's end: drops everything held; returns the deliveries whose settlements it dropped. */
  discard(): UnackedDelivery[] {
    const deliveries = this.settlements.flatMap((held) => held.deliveries);
    this.publishes = [];
    this.settlements = [];
    return deliveries;
  }
}
