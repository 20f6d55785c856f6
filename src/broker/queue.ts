/**
 * A queue: ready messages in delivery order (one list per priority level, kept by ReadyLevels in
 * ready-levels.ts), the consumers subscribed to it (QueueConsumers in queue-consumers.ts, which applies
 * consumer priorities and single active consumer in choosing who takes the next message), and the
 * dispatch that hands messages to whichever consumer can take one. The other queue features of RabbitMQ
 * live here: message TTL (expired messages leave from the head), length limits with their overflow
 * modes, dead-lettering (through the owner, which routes to the dead-letter exchange), the delivery
 * limit and queue expiry.
 */
import type { FieldTable } from '../codec/index.js';
import type { DeadLetterReason } from './dead-letter.js';
import { Message, type Consumer, type DeliverySource, type QueueEntry } from './message.js';
import type { PagedFifo, PagedMessage } from './paged-fifo.js';
import type { QueueMessageStore, QueueRecovery, StoredMessage } from './ports.js';
import { PublisherThrottle, type FlowControlPolicy, type Publisher, type ThrottledQueue } from './publisher-throttle.js';
import { DeadlineTimer } from '../util/deadline-timer.js';
import { EnqueueTimes } from './enqueue-times.js';
import { withPolicy, type Policy } from './policies.js';
import { QueueConsumers } from './queue-consumers.js';
import { queueSettings, type QueueSettings } from './queue-settings.js';
import { ReadyLevels } from './ready-levels.js';
import type { ReadyItem, ReadyList } from './ready-list.js';
import type { ResourceAlarm } from './resource-alarm.js';

/** The declared shape of a queue, compared on redeclaration. */
export interface QueueOptions {
  durable: boolean;
  /** Id of the owning connection for an exclusive queue, or null. */
  exclusiveOwner: number | null;
  autoDelete: boolean;
  arguments: FieldTable;
}

/** What a queue asks of its vhost. */
export interface QueueOwner {
  /** The queue wants to be deleted (auto-delete after its last consumer went, or x-expires). */
  autoDeleteQueue(queue: Queue): void;
  /**
   * A store for a queue without one (a non-durable queue) to page messages out to once its backlog
   * outgrows the memory window; undefined when the node has no storage.
   */
  openPagingStore(queue: Queue): QueueMessageStore | undefined;
  /** Routes a message the queue discards to its dead-letter exchange (settings.deadLetterExchange is set). */
  deadLetter(queue: Queue, message: Message, reason: DeadLetterReason): void;
}

/** What enqueue did with a message. */
export const Enqueued = {
  /** Held in memory only: a publisher confirm need not wait. */
  inMemory: 0,
  /** Written to the queue's store as persistent: a confirm waits for the next fsync. */
  persisted: 1,
  /** Refused by x-overflow reject-publish(-dlx): a confirm is a nack. */
  rejected: 2,
} as const;
export type Enqueued = (typeof Enqueued)[keyof typeof Enqueued];

/** Past this many enqueue-time checkpoints, each new one first drops those no ready message needs. */
const ENQUEUE_CHECKPOINTS_TRIM = 1024;

/** Deliveries are counted by x-delivery-count 0, 1, 2, ... up to this, which counts it and all above. */
export const DELIVERY_ATTEMPT_BUCKETS = 5;

/** Paged-out messages read back at once when the in-memory part of a queue runs dry. */
const PAGE_IN_BATCH = 256;

/** A message queue. */
export class Queue implements DeliverySource, ThrottledQueue {
  /** Feature settings: the declare arguments merged with the policy that applies (see policies.ts). */
  settings: QueueSettings;
  /** The policy that applies, if any. */
  policy: Policy | undefined;
  /** Ready messages, one list per priority level (one list without x-max-priority). */
  private readonly ready: ReadyLevels;
  private readonly consumersByPriority = new QueueConsumers();
  private nextSequence = 0;
  private dispatching = false;
  private readonly throttle: PublisherThrottle;
  /** Deliveries to consumers so far (flow control watches it for progress). */
  deliveryCount = 0;
  /** Entries handed out (to consumers or basic.get) and not yet settled, rejected or returned. */
  private outstanding = 0;
  /** When messages were enqueued (checkpoints), for the oldest ready message's age. */
  private readonly enqueueTimes = new EnqueueTimes();
  /**
   * Deliveries (to consumers and basic.get) by attempt: index i counts deliveries whose x-delivery-count
   * was i (the first delivery has 0), the last index everything from DELIVERY_ATTEMPT_BUCKETS on.
   */
  readonly deliveriesByAttempt: number[] = new Array<number>(DELIVERY_ATTEMPT_BUCKETS + 1).fill(0);
  /** The sum of the attempt numbers (x-delivery-count + 1) of all deliveries, for the histogram's _sum. */
  deliveryAttemptsSum = 0;
  /**
   * Where the queue's messages go to disk: a durable queue's store (persistent messages, and transient
   * ones paged out), or a non-durable queue's paging store, opened the first time it is needed.
   */
  private store: QueueMessageStore | undefined;
  /** Set once the owner was asked for a paging store and had none to give. */
  private pagingUnavailable = false;
  /** Fires when the head message of some level expires (message TTL). */
  private readonly expiryTimer = new DeadlineTimer(() => {
    if (!this.deleted) this.expireAndSchedule(Date.now());
  });
  /** x-expires: fires when the queue has been unused for that long. */
  private readonly idleTimer = new DeadlineTimer(() => {
    if (!this.deleted && this.consumersByPriority.length === 0) this.owner.autoDeleteQueue(this);
  });
  private readonly pageInBound = (paged: PagedMessage): QueueEntry => this.pageIn(paged);
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
    this.settings = queueSettings(options.arguments);
    this.ready = new ReadyLevels((this.settings.maxPriority ?? 0) + 1);
    this.touch();
  }

  /**
   * Applies a policy (or none): the settings are recomputed at once, a lower length limit drops (or
   * dead-letters) the oldest messages now, and a changed expiry restarts the idle countdown. A changed
   * message TTL applies to messages enqueued from now on.
   */
  applyPolicy(policy: Policy | undefined): void {
    this.policy = policy;
    const before = this.settings;
    this.settings = withPolicy(queueSettings(this.options.arguments), policy?.definition);
    if (this.settings.expires !== before.expires) this.touch();
    if (this.settings.overflow === 'drop-head') this.dropHeadOverLimit();
  }

  /** Ready messages (not counting delivered, unacknowledged ones). */
  get messageCount(): number {
    return this.ready.length;
  }

  /** Body bytes of the ready messages. */
  get messageBytes(): number {
    return this.ready.bytes;
  }

  /** Milliseconds the oldest ready message has waited (to 100 ms), or undefined when none is ready. */
  oldestReadyAgeMs(now = Date.now()): number | undefined {
    const oldest = this.ready.oldestSequence();
    this.enqueueTimes.forgetBefore(oldest);
    if (oldest === undefined) return undefined;
    const enqueuedAt = this.enqueueTimes.timeOf(oldest);
    return enqueuedAt === undefined ? undefined : Math.max(0, now - enqueuedAt);
  }

  /** Messages delivered and not yet acknowledged (RabbitMQ's messages_unacknowledged). */
  get unackedCount(): number {
    return Math.max(0, this.outstanding);
  }

  /** Number of consumers subscribed. */
  get consumerCount(): number {
    return this.consumersByPriority.length;
  }

  /** The consumers subscribed, highest priority first, in subscription order within a priority. */
  get consumers(): readonly Consumer[] {
    return this.consumersByPriority.list;
  }

  /** Gives a durable queue its message store and loads what the store recovered, in order. */
  attachStore(store: QueueMessageStore, recovery: Pick<QueueRecovery, 'messages' | 'pagedOut'>): void {
    this.store = store;
    const now = Date.now();
    // Enqueue times are not stored: recovered messages count as enqueued now (as their TTL does).
    this.enqueueTimes.note(this.nextSequence, now);
    for (const { location, message: stored, redelivered } of recovery.messages) {
      const message = toMessage(stored);
      this.ready.levelOf(message).push({ message, sequence: this.nextSequence++, redelivered, location, expiresAt: this.expiryOf(message, now), deliveryCount: 0 });
      this.alarms.held(stored.body.length);
    }
    // Past the window recovery returns places only; bodies are read back when the queue reaches them.
    const { locations, redelivered, sizes } = recovery.pagedOut;
    const needsMessage = this.ready.levels.length > 1 || this.settings.messageTtl !== undefined;
    for (let i = 0; i < locations.length; i++) {
      const location = locations[i] as (typeof locations)[number];
      // A priority or per-message TTL needs the properties: read each once (recovery read them all anyway).
      const message = needsMessage ? toMessage(store.read(location)) : undefined;
      const level = message === undefined ? (this.ready.levels[0] as ReadyList) : this.ready.levelOf(message);
      const expiresAt = message === undefined ? 0 : this.expiryOf(message, now);
      level.pushPaged({ location, sequence: this.nextSequence++, expiresAt, size: sizes[i] ?? 0, redelivered: redelivered.has(i) });
    }
    this.scheduleExpiry();
  }

  /** Appends a message and hands it to a consumer if one can take it; says whether it was stored or refused. */
  enqueue(message: Message): Enqueued {
    if (this.wouldOverflow(message) && this.settings.overflow !== 'drop-head') {
      if (this.settings.overflow === 'reject-publish-dlx') this.deadLetter(message, 'maxlen');
      return Enqueued.rejected;
    }
    const now = this.settings.messageTtl !== undefined || message.expirationMs !== undefined ? Date.now() : 0;
    const expiresAt = now === 0 ? 0 : this.expiryOf(message, now);
    const persisted = this.options.durable && message.persistent && this.store !== undefined;
    const level = this.ready.levelOf(message);
    const sequence = this.nextSequence++;
    // Checkpoints are trimmed here too, not only when the age is read, so memory stays bounded unscraped.
    if (this.enqueueTimes.note(sequence, now === 0 ? Date.now() : now) && this.enqueueTimes.size > ENQUEUE_CHECKPOINTS_TRIM) {
      this.enqueueTimes.forgetBefore(this.ready.oldestSequence());
    }
    // Deep backlog: once the window is full, messages wait on disk (behind any already there) in order.
    const store = level.pagedLength > 0 || level.residentLength >= this.alarms.queueWindowMessages ? this.pagingStore() : undefined;
    if (store !== undefined) {
      const location = persisted ? store.append(message) : store.appendTransient(message);
      level.pushPaged({ location, sequence, expiresAt, size: message.body.length, redelivered: false });
    } else {
      const entry: QueueEntry = { message, sequence, redelivered: false, expiresAt, deliveryCount: 0 };
      if (persisted) entry.location = (this.store as QueueMessageStore).append(message);
      this.alarms.held(message.body.length);
      level.push(entry);
    }
    if (this.settings.maxLength !== undefined || this.settings.maxLengthBytes !== undefined) this.dropHeadOverLimit();
    if (this.consumersByPriority.length > 0) this.dispatch(now === 0 ? undefined : now);
    if (expiresAt !== 0) this.expireAndSchedule(now);
    return persisted ? Enqueued.persisted : Enqueued.inMemory;
  }

  /** Pauses a publisher to this queue while the node is busy and the consumers are behind. */
  applyFlowControl(publisher: Publisher): void {
    this.throttle.maybePause(publisher);
  }

  /**
   * Removes and returns the next ready, unexpired entry for delivery (to a consumer or basic.get), or
   * undefined. `now` is the caller's clock when it has one: a message with a TTL of 0 expires at the
   * millisecond it arrived, and is still delivered to a consumer ready in that same call.
   */
  shift(now?: number): QueueEntry | undefined {
    for (;;) {
      const level = this.ready.highestNonEmpty();
      if (level === undefined) return undefined;
      const entry = level.shift(this.pageInBound, this.pageInBatch()) as QueueEntry;
      if (entry.expiresAt !== 0 && entry.expiresAt < (now ??= Date.now())) {
        this.discard(entry, 'expired');
        continue;
      }
      // Recovery after a crash marks messages that may have reached a consumer as redelivered.
      if (entry.location !== undefined && !entry.redelivered) this.store?.markDelivered(entry.location);
      this.outstanding++;
      (this.deliveriesByAttempt[Math.min(entry.deliveryCount, DELIVERY_ATTEMPT_BUCKETS)] as number)++;
      this.deliveryAttemptsSum += entry.deliveryCount + 1;
      return entry;
    }
  }

  /** basic.get: counts as use for x-expires. */
  get(): QueueEntry | undefined {
    this.touch();
    return this.shift();
  }

  /** Drops every ready message and returns how many there were. */
  purge(): number {
    const count = this.messageCount;
    this.dropReady();
    this.throttle.releaseAll();
    return count;
  }

  /** Returns delivered entries to the queue (nack/reject with requeue, or their channel went away). */
  requeue(entries: readonly QueueEntry[]): void {
    this.outstanding -= entries.length;
    if (this.deleted || entries.length === 0) return;
    const limit = this.settings.deliveryLimit;
    const returned: QueueEntry[] = [];
    for (const entry of entries) {
      entry.redelivered = true;
      entry.deliveryCount++;
      // Poison-message protection, as RabbitMQ's quorum queues: past the limit, dead-letter instead.
      if (limit !== undefined && entry.deliveryCount > limit) {
        this.discard(entry, 'delivery_limit');
        continue;
      }
      entry.message = withDeliveryCount(entry.message, entry.deliveryCount);
      returned.push(entry);
    }
    this.ready.requeue(returned);
    // drop-head applies to requeued messages too: over the limit, the head (often the returned message) goes.
    if (this.settings.overflow === 'drop-head') this.dropHeadOverLimit();
    const now = Date.now();
    this.dispatch(now);
    this.expireAndSchedule(now);
  }

  /** An acknowledged (or no-ack delivered) entry leaves for good. */
  settle(entry: QueueEntry): void {
    this.outstanding--;
    this.alarms.held(-entry.message.body.length);
    if (entry.location !== undefined && this.store !== undefined) this.store.ack(entry.location);
  }

  /** basic.reject / basic.nack without requeue: the entry is dead-lettered (reason rejected) or dropped. */
  reject(entry: QueueEntry): void {
    this.outstanding--;
    this.discard(entry, 'rejected');
  }

  /** Browsing: the ready messages at positions [offset, offset + limit) in delivery order, consuming nothing. */
  readyPage(offset: number, limit: number): ReadyItem[] {
    return this.ready.page(offset, limit);
  }

  /** Browsing: reads a paged-out message back from the store without taking it off the queue. */
  readPaged(paged: PagedMessage): Message {
    return toMessage((this.store as QueueMessageStore).read(paged.location));
  }

  /**
   * Management delete: takes the ready message with that sequence number out of the queue, wherever it
   * waits, and acknowledges it in the store (never dead-lettered, as a purge). Undefined when no ready
   * message has it; `stored` says an acknowledgement was written (the caller waits for it to be durable).
   */
  removeReady(sequence: number): { stored: boolean } | undefined {
    const removed = this.ready.remove(sequence);
    if (removed === undefined) return undefined;
    if (removed.entry !== undefined) this.alarms.held(-removed.entry.message.body.length);
    const location = removed.entry === undefined ? removed.paged.location : removed.entry.location;
    if (location === undefined || this.store === undefined) return { stored: false };
    this.store.ack(location);
    return { stored: true };
  }

  /** Puts entries taken by shift() back in their places unchanged (a move that could not complete). */
  putBack(entries: readonly QueueEntry[]): void {
    this.outstanding -= entries.length;
    if (this.deleted || entries.length === 0) return;
    this.ready.requeue(entries);
    this.dispatch();
  }

  /** Whether enqueue would refuse this message now (a length limit with x-overflow reject-publish). */
  refuses(message: Message): boolean {
    return this.settings.overflow !== 'drop-head' && this.wouldOverflow(message);
  }

  /** Subscribes a consumer (ordered by its priority) and starts delivering to it. */
  addConsumer(consumer: Consumer): void {
    this.consumersByPriority.add(consumer);
    this.touch();
    this.dispatch();
  }

  /** Unsubscribes a consumer; an auto-delete queue goes once its last consumer has gone. */
  removeConsumer(consumer: Consumer): void {
    const consumers = this.consumersByPriority;
    const index = consumers.remove(consumer, this.settings.singleActiveConsumer);
    if (index < 0) return;
    if (consumers.length === 0) this.throttle.releaseAll();
    if (this.options.autoDelete && consumers.hadConsumer && consumers.length === 0 && !this.deleted) {
      this.owner.autoDeleteQueue(this);
      return;
    }
    this.touch();
    // With a single active consumer, the next one in line takes over what is ready.
    if (this.settings.singleActiveConsumer && index === 0) this.dispatch();
  }

  /** Whether a consumer with the exclusive flag holds the queue. */
  hasExclusiveConsumer(): boolean {
    return this.consumersByPriority.hasExclusive();
  }

  /** A redeclare counts as use for x-expires. */
  redeclared(): void {
    this.touch();
  }

  /** Marks the queue deleted and cancels its consumers; returns the number of ready messages dropped. */
  markDeleted(): number {
    this.deleted = true;
    this.clearTimers();
    const count = this.messageCount;
    // The store is destroyed right after, so dropping ready messages need not record acks one by one.
    const store = this.store;
    this.store = undefined;
    this.dropReady();
    this.throttle.releaseAll();
    store?.destroy();
    const consumers = this.consumersByPriority.removeAll();
    for (const consumer of consumers) consumer.cancelledByBroker();
    return count;
  }

  /** Delivers ready messages to consumers that can accept them, until none can. */
  dispatch(now?: number): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    const deliveredBefore = this.deliveryCount;
    try {
      while (this.messageCount > 0) {
        const consumer = this.consumersByPriority.nextAccepting(this.settings.singleActiveConsumer);
        if (consumer === undefined) break;
        const entry = this.shift(now);
        if (entry === undefined) break;
        this.deliveryCount++;
        consumer.deliver(this, entry);
      }
    } finally {
      this.dispatching = false;
    }
    if (this.deliveryCount !== deliveredBefore) this.throttle.onDelivered();
  }

  /** When a message arriving now expires (0 for never); with a TTL of 0, now itself. */
  private expiryOf(message: Message, now: number): number {
    const queueTtl = this.settings.messageTtl;
    const messageTtl = message.expirationMs;
    if (queueTtl === undefined && messageTtl === undefined) return 0;
    const ttl = Math.min(queueTtl ?? Number.POSITIVE_INFINITY, messageTtl ?? Number.POSITIVE_INFINITY);
    return now + ttl;
  }

  private wouldOverflow(message: Message): boolean {
    const { maxLength, maxLengthBytes } = this.settings;
    if (maxLength !== undefined && this.messageCount >= maxLength) return true;
    return maxLengthBytes !== undefined && this.messageBytes + message.body.length > maxLengthBytes;
  }

  /** x-overflow drop-head: drops (or dead-letters) the oldest messages until the queue is within its limits. */
  private dropHeadOverLimit(): void {
    const { maxLength, maxLengthBytes } = this.settings;
    while (
      (maxLength !== undefined && this.messageCount > maxLength) ||
      (maxLengthBytes !== undefined && this.messageBytes > maxLengthBytes)
    ) {
      const level = this.ready.lowestNonEmpty();
      if (level === undefined) return;
      this.discard(level.shift(this.pageInBound, 1) as QueueEntry, 'maxlen');
    }
  }

  /** A message leaves the queue without being delivered: dead-lettered if the queue has a DLX, then settled. */
  private discard(entry: QueueEntry, reason: DeadLetterReason): void {
    this.deadLetter(entry.message, reason);
    this.settle(entry);
  }

  private deadLetter(message: Message, reason: DeadLetterReason): void {
    if (this.settings.deadLetterExchange !== undefined) this.owner.deadLetter(this, message, reason);
  }

  /** Removes expired messages from the heads of the levels and arms a timer for the next head to expire. */
  private expireAndSchedule(now: number): void {
    for (const level of this.ready.levels) {
      for (;;) {
        const expiresAt = level.headExpiresAt();
        if (expiresAt === undefined || expiresAt === 0 || expiresAt > now) break;
        this.discard(level.shift(this.pageInBound, 1) as QueueEntry, 'expired');
      }
    }
    this.scheduleExpiry();
  }

  private scheduleExpiry(): void {
    const next = this.ready.nextHeadExpiry();
    if (next === Number.POSITIVE_INFINITY || this.deleted) return;
    this.expiryTimer.armBy(next);
  }

  /** x-expires: (re)starts the countdown to deleting the queue while it has no consumers. */
  private touch(): void {
    const expires = this.settings.expires;
    if (this.deleted) return;
    // No x-expires (a policy that set it was removed, say), or consumers: no countdown.
    if (expires === undefined || this.consumersByPriority.length > 0) this.idleTimer.clear();
    else this.idleTimer.restart(expires);
  }

  private clearTimers(): void {
    this.expiryTimer.clear();
    this.idleTimer.clear();
  }

  private pageInBatch(): number {
    return Math.max(1, Math.min(PAGE_IN_BATCH, this.alarms.queueWindowMessages));
  }

  /** Reads a paged-out message back from the store. */
  private pageIn(paged: PagedMessage): QueueEntry {
    const stored = (this.store as QueueMessageStore).read(paged.location);
    this.alarms.held(stored.body.length);
    const { location, sequence, redelivered, expiresAt } = paged;
    return { message: toMessage(stored), sequence, redelivered, location, expiresAt, deliveryCount: 0 };
  }

  private pagingStore(): QueueMessageStore | undefined {
    if (this.store === undefined && !this.pagingUnavailable && !this.deleted) {
      this.store = this.owner.openPagingStore(this);
      this.pagingUnavailable = this.store === undefined;
    }
    return this.store;
  }

  /** Settles and forgets every ready message; delivered, unacknowledged ones stay until settled. */
  private dropReady(): void {
    const store = this.store;
    const settle = (entry: QueueEntry): void => this.settle(entry);
    const ackPaged = (paged: PagedFifo): void => {
      if (store !== undefined) paged.forEachLocation((location) => store.ack(location));
    };
    this.ready.clear(settle, ackPaged);
  }
}

function toMessage(stored: StoredMessage): Message {
  return new Message(stored.exchange, stored.routingKey, stored.rawProperties, stored.body);
}

/** The message as redelivered: with the x-delivery-count header RabbitMQ's quorum queues add. */
function withDeliveryCount(message: Message, count: number): Message {
  const properties = message.properties;
  return message.withProperties({ ...properties, headers: { ...properties.headers, 'x-delivery-count': BigInt(count) } });
}
