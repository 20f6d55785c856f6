/**
 * The consumers of one queue and the choice of which of them takes the next message. They are kept
 * highest priority first (x-priority), in subscription order within a priority; a message goes to the
 * highest priority group with a consumer that can take it, round-robin within the group. With single
 * active consumer only the first one subscribed gets messages, and a successor takes over only once
 * the deliveries its predecessor left unacknowledged are settled or returned.
 */
import type { Consumer } from './message.js';

/** A queue's consumers by priority, with the round-robin position and the single active consumer's hand-over. */
export class QueueConsumers {
  /** The consumers, highest priority first, in subscription order within a priority. */
  readonly list: Consumer[] = [];
  /** Set once a consumer has subscribed: an auto-delete queue goes only after it had one. */
  hadConsumer = false;
  /** Round-robin position among the consumers of the highest priority that can take a message. */
  private nextIndex = 0;
  /**
   * Single active consumer: the active consumer that went away while holding unacknowledged messages.
   * As in RabbitMQ, the next consumer becomes active only once those are settled or returned, so it
   * gets the returned ones first.
   */
  private previousActive: Consumer | undefined;

  /** Number of consumers subscribed. */
  get length(): number {
    return this.list.length;
  }

  /** Adds a consumer after those of its priority and above. */
  add(consumer: Consumer): void {
    let at = this.list.length;
    while (at > 0 && (this.list[at - 1] as Consumer).priority < consumer.priority) at--;
    this.list.splice(at, 0, consumer);
    this.hadConsumer = true;
  }

  /** Removes a consumer; returns where it was (0: the active one with single active consumer), or -1 if absent. */
  remove(consumer: Consumer, singleActiveConsumer: boolean): number {
    const index = this.list.indexOf(consumer);
    if (index < 0) return index;
    this.list.splice(index, 1);
    if (this.nextIndex > index) this.nextIndex--;
    if (singleActiveConsumer && index === 0 && consumer.unackedCount > 0) this.previousActive = consumer;
    return index;
  }

  /** Removes every consumer and returns them. */
  removeAll(): Consumer[] {
    return this.list.splice(0);
  }

  /** Whether a consumer with the exclusive flag is among them. */
  hasExclusive(): boolean {
    return this.list.some((consumer) => consumer.exclusive);
  }

  /** The consumer that takes the next message, or undefined when none can take one now. */
  nextAccepting(singleActiveConsumer: boolean): Consumer | undefined {
    const consumers = this.list;
    if (singleActiveConsumer) {
      if (this.previousActive !== undefined) {
        if (this.previousActive.unackedCount > 0) return undefined;
        this.previousActive = undefined;
      }
      const active = consumers[0];
      return active !== undefined && active.canAccept() ? active : undefined;
    }
    // Consumers are sorted by priority: try each priority group in turn, round-robin within a group.
    for (let start = 0; start < consumers.length; ) {
      const priority = (consumers[start] as Consumer).priority;
      let end = start + 1;
      while (end < consumers.length && (consumers[end] as Consumer).priority === priority) end++;
      const size = end - start;
      const cursor = this.nextIndex >= start && this.nextIndex < end ? this.nextIndex - start : 0;
      for (let tried = 0; tried < size; tried++) {
        const index = start + ((cursor + tried) % size);
        const consumer = consumers[index] as Consumer;
        if (consumer.canAccept()) {
          this.nextIndex = index + 1 < end ? index + 1 : start;
          return consumer;
        }
      }
      start = end;
    }
    return undefined;
  }
}
