/**
 * A queue: ready messages in arrival order, the consumers subscribed to it, and the round-robin
 * dispatch that hands messages to whichever consumer can take one.
 */
import type { FieldTable } from '../codec/index.js';
import { Deque } from '../util/deque.js';
import { Message, type Consumer, type DeliverySource, type QueueEntry } from './message.js';
import { PagedFifo } from './paged-fifo.js';
import type { ResourceAlarm } from './resource-alarm.js';
import type { QueueMessageStore, QueueRecovery, StoredMessage } from './ports.js';
import { PublisherThrottle, type FlowControlPolicy, type Publisher, type ThrottledQueue } from './publisher-throttle.js';

/** The declared shape of a queue, compared on redeclaration. */
export interface QueueOptions {
  durable: boolean;
  /** Id of the owning connection for an exclusive queue, or null. */
  exclusiveOwner: number | null;
  autoDelete: boolean;
  arguments: FieldTable;
}

/** What a queue tells its vhost about its lifecycle. */
export interface QueueOwner {
  /** The queue wants to be deleted (auto-delete after its last consumer went). */
  autoDeleteQueue(queue: Queue): void;
  /**
   * A store for a queue without one (a non-durable queue) to page messages out to once its backlog
   * outgrows the memory window; undefined when the node has no storage.
   */
  openPagingStore(queue: Queue): QueueMessageStore | undefined;
}

/** Paged-out messages read back at once when the in-memory part of a queue runs dry. */
const PAGE_IN_BATCH = 256;

/**
 * A message queue. Ready messages live in three parts, in delivery order: `requeued` (returned by
 * consumers), `ready` (in memory, at most the memory window when the queue has a store) and `paged`
 * (bodies only in the store, once the backlog outgrew the window; read back in batches).
 */
export class Queue implements DeliverySource, ThrottledQueue {
  private readonly ready = new Deque<QueueEntry>(1024);
  private readonly paged = new PagedFifo();
  /**
   * Entries returned to the queue, ordered by sequence, consumed from requeuedHead on; they all
   * precede every entry in `ready` (which only holds entries never delivered).
   */
  private requeued: QueueEntry[] = [];
  private requeuedHead = 0;
  private readonly consumerList: Consumer[] = [];
  private nextConsumerIndex = 0;
  private nextSequence = 0;
  private dispatching = false;
  private hadConsumer = false;
  private readonly throttle: PublisherThrottle;
  /** Deliveries to consumers so far (flow control watches it for progress). */
  deliveryCount = 0;
  /**
   * Where the queue's messages go to disk: a durable queue's store (persistent messages, and transient
   * ones paged out), or a non-durable queue's paging store, opened the first time it is needed.
   */
  private store: QueueMessageStore | undefined;
  /** Set once the owner was asked for a paging store and had none to give. */
  private pagingUnavailable = false;
  /** Set once the queue is deleted; a deleted queue accepts nothing. */
  deleted = false;

  constructor(
    readonly vhost: string,
    readonly name: string,
    readonly options: QueueOptions,
    private readonly owner: QueueOwner,
    flowControl: FlowControlPolicy,
    private readonly alarms: ResourceAlarm,
  ) {
    this.throttle = new PublisherThrottle(flowControl, this);
  }

  /** Ready messages (not counting delivered, unacknowledged ones). */
  get messageCount(): number {
    return this.ready.length + this.paged.length + this.requeued.length - this.requeuedHead;
  }

  /** Number of consumers subscribed. */
  get consumerCount(): number {
    return this.consumerList.length;
  }

  /** The consumers subscribed, in round-robin order. */
  get consumers(): readonly Consumer[] {
    return this.consumerList;
  }

  /** Gives a durable queue its message store and loads what the store recovered, in order. */
  attachStore(store: QueueMessageStore, recovery: Pick<QueueRecovery, 'messages' | 'pagedOut'>): void {
    this.store = store;
    for (const { location, message, redelivered } of recovery.messages) {
      this.ready.push({ message: toMessage(message), sequence: this.nextSequence++, redelivered, location });
      this.alarms.held(message.body.length);
    }
    // Past the window recovery returns places only; bodies are read back when the queue reaches them.
    const { locations, redelivered } = recovery.pagedOut;
    for (let i = 0; i < locations.length; i++) this.paged.push(locations[i] as (typeof locations)[number], this.nextSequence++, redelivered.has(i));
  }

  /**
   * Appends a message and hands it to a consumer if one can take it. Returns true when the message
   * was written to the queue's store as persistent, so a publisher confirm must wait for the next fsync.
   */
  enqueue(message: Message): boolean {
    const sequence = this.nextSequence++;
    const persisted = this.options.durable && message.persistent && this.store !== undefined;
    // Deep backlog: once the window is full, messages wait on disk (behind any already there) in order.
    if (this.paged.length > 0 || this.ready.length >= this.alarms.queueWindowMessages) {
      const store = this.pagingStore();
      if (store !== undefined) {
        this.paged.push(persisted ? store.append(message) : store.appendTransient(message), sequence, false);
        if (this.consumerList.length > 0) this.dispatch();
        return persisted;
      }
    }
    const entry: QueueEntry = { message, sequence, redelivered: false };
    if (persisted) entry.location = (this.store as QueueMessageStore).append(message);
    this.alarms.held(message.body.length);
    this.ready.push(entry);
    if (this.consumerList.length > 0) this.dispatch();
    return persisted;
  }

  private pagingStore(): QueueMessageStore | undefined {
    if (this.store === undefined && !this.pagingUnavailable && !this.deleted) {
      this.store = this.owner.openPagingStore(this);
      this.pagingUnavailable = this.store === undefined;
    }
    return this.store;
  }

  /** Pauses a publisher to this queue while the node is busy and the consumers are behind. */
  applyFlowControl(publisher: Publisher): void {
    this.throttle.maybePause(publisher);
  }

  /** Removes and returns the next ready entry for delivery (to a consumer or basic.get), or undefined. */
  shift(): QueueEntry | undefined {
    const entry = this.takeNext();
    // Recovery after a crash marks messages that may have reached a consumer as redelivered.
    if (entry?.location !== undefined && !entry.redelivered) this.store?.markDelivered(entry.location);
    return entry;
  }

  private takeNext(): QueueEntry | undefined {
    if (this.requeuedHead < this.requeued.length) {
      const entry = this.requeued[this.requeuedHead++];
      if (this.requeuedHead === this.requeued.length) {
        this.requeued = [];
        this.requeuedHead = 0;
      }
      return entry;
    }
    if (this.ready.length === 0 && this.paged.length > 0) this.pageIn();
    return this.ready.shift();
  }

  /** Reads the next batch of paged-out messages back into memory (sequential reads of the store). */
  private pageIn(): void {
    const store = this.store as QueueMessageStore;
    const batch = Math.max(1, Math.min(PAGE_IN_BATCH, this.alarms.queueWindowMessages));
    for (let i = 0; i < batch; i++) {
      const paged = this.paged.shift();
      if (paged === undefined) break;
      const stored = store.read(paged.location);
      this.ready.push({ message: toMessage(stored), sequence: paged.sequence, redelivered: paged.redelivered, location: paged.location });
      this.alarms.held(stored.body.length);
    }
  }

  /** Drops every ready message and returns how many there were. */
  purge(): number {
    const count = this.messageCount;
    this.dropReady();
    this.throttle.releaseAll();
    return count;
  }

  /** Settles and forgets every ready message; delivered, unacknowledged ones stay until settled. */
  private dropReady(): void {
    for (let i = this.requeuedHead; i < this.requeued.length; i++) this.settle(this.requeued[i] as QueueEntry);
    for (const entry of this.ready) this.settle(entry);
    const store = this.store;
    if (store !== undefined) this.paged.forEachLocation((location) => store.ack(location));
    this.requeued = [];
    this.requeuedHead = 0;
    this.ready.clear();
    this.paged.clear();
  }

  requeue(entries: readonly QueueEntry[]): void {
    if (this.deleted) return;
    if (entries.length === 0) return;
    const returned = [...entries].sort((a, b) => a.sequence - b.sequence);
    for (const entry of returned) entry.redelivered = true;
    // One linear merge keeps requeueing a large batch (a consumer with many unacked messages died) cheap.
    this.requeued = mergeBySequence(this.requeued.slice(this.requeuedHead), returned);
    this.requeuedHead = 0;
    this.dispatch();
  }

  settle(entry: QueueEntry): void {
    this.alarms.held(-entry.message.body.length);
    if (entry.location !== undefined && this.store !== undefined) this.store.ack(entry.location);
  }

  /** Subscribes a consumer and starts delivering to it. */
  addConsumer(consumer: Consumer): void {
    this.consumerList.push(consumer);
    this.hadConsumer = true;
    this.dispatch();
  }

  /** Unsubscribes a consumer; an auto-delete queue goes once its last consumer has gone. */
  removeConsumer(consumer: Consumer): void {
    const index = this.consumerList.indexOf(consumer);
    if (index < 0) return;
    this.consumerList.splice(index, 1);
    if (this.nextConsumerIndex > index) this.nextConsumerIndex--;
    if (this.consumerList.length === 0) this.throttle.releaseAll();
    if (this.options.autoDelete && this.hadConsumer && this.consumerList.length === 0 && !this.deleted) {
      this.owner.autoDeleteQueue(this);
    }
  }

  /** Whether a consumer with the exclusive flag holds the queue. */
  hasExclusiveConsumer(): boolean {
    return this.consumerList.some((consumer) => consumer.exclusive);
  }

  /** Marks the queue deleted and cancels its consumers; returns the number of ready messages dropped. */
  markDeleted(): number {
    this.deleted = true;
    const count = this.messageCount;
    // The store is destroyed right after, so dropping ready messages need not record acks one by one.
    const store = this.store;
    this.store = undefined;
    this.dropReady();
    this.throttle.releaseAll();
    store?.destroy();
    const consumers = this.consumerList.splice(0);
    for (const consumer of consumers) consumer.cancelledByBroker();
    return count;
  }

  /** Delivers ready messages round-robin to consumers that can accept them, until none can. */
  dispatch(): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    const deliveredBefore = this.deliveryCount;
    try {
      while (this.messageCount > 0) {
        const consumer = this.nextAcceptingConsumer();
        if (consumer === undefined) break;
        const entry = this.shift();
        if (entry === undefined) break;
        this.deliveryCount++;
        consumer.deliver(this, entry);
      }
    } finally {
      this.dispatching = false;
    }
    if (this.deliveryCount !== deliveredBefore) this.throttle.onDelivered();
  }

  private nextAcceptingConsumer(): Consumer | undefined {
    const count = this.consumerList.length;
    for (let tried = 0; tried < count; tried++) {
      if (this.nextConsumerIndex >= count) this.nextConsumerIndex = 0;
      const consumer = this.consumerList[this.nextConsumerIndex++];
      if (consumer !== undefined && consumer.canAccept()) return consumer;
    }
    return undefined;
  }
}

function toMessage(stored: StoredMessage): Message {
  return new Message(stored.exchange, stored.routingKey, stored.rawProperties, stored.body);
}

function mergeBySequence(left: readonly QueueEntry[], right: readonly QueueEntry[]): QueueEntry[] {
  if (left.length === 0) return [...right];
  const merged: QueueEntry[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) {
    const a = left[i] as QueueEntry;
    const b = right[j] as QueueEntry;
    if (a.sequence <= b.sequence) {
      merged.push(a);
      i++;
    } else {
      merged.push(b);
      j++;
    }
  }
  while (i < left.length) merged.push(left[i++] as QueueEntry);
  while (j < right.length) merged.push(right[j++] as QueueEntry);
  return merged;
}
