/**
 * Holds the messages x-delayed-message exchanges delay (RabbitMQ's delayed message plugin) until they
 * are due, then routes them through their exchange as a publish would. One per vhost: a min-heap by
 * due time and a single unref'd timer armed for the earliest message.
 *
 * Persistence: a persistent message held by a durable delayed exchange is appended to a hidden message
 * store of that exchange (opened like a durable queue's, under a name no queue can have). The record
 * is the message as it will be released, plus a private header carrying its due time (and any CC/BCC
 * routing keys), stripped again when it is read back at start. Its record is acknowledged once the
 * routed copies are on disk, so a crash in between delivers it again rather than losing it.
 */
import { encodeBasicProperties, type FieldTable, type FieldValue } from '../codec/index.js';
import type { Logger } from '../util/logger.js';
import { DELAY_MAX_MS, DelayedExchange, delayOf } from './exchange/delayed.js';
import type { Exchange } from './exchange/exchange.js';
import { Message } from './message.js';
import type { MessageLocation, Persistence, QueueMessageStore, StoredMessage } from './ports.js';
import type { Queue } from './queue.js';
import type { ResourceAlarm } from './resource-alarm.js';

/** Prefix of a delayed exchange's message store name: queue names starting with "amq." cannot be declared. */
const STORE_NAME_PREFIX = 'amq.delayed-message\u0000';
/** Private header of a stored delayed message (never seen by a client): { due-at, routing-keys }. */
const STORED_HEADER = 'x-warren-delayed';
/** Node's longest timer (2^31-1 ms); a later due time takes more than one timer round. */
const TIMER_MAX_MS = 2147483647;

/** What the scheduler needs of its vhost. */
export interface DelayHost {
  readonly name: string;
  /** Routes a message through an exchange as a publish does; returns the queues it reaches. */
  route(exchange: Exchange, message: Message, into: Queue[]): Queue[];
  /** Calls onDurable once every persistent message written so far is on disk. */
  syncMessages(onDurable: (error: Error | undefined) => void): void;
}

/** A message held back: whether it was written to disk (its publisher confirm waits for the fsync). */
export interface Held {
  persisted: boolean;
}

/** A held message as browsing sees it. */
export interface HeldMessage {
  /** Hold order within the vhost: the message's id while it is held. */
  readonly sequence: number;
  /** When it is due (ms since the epoch). */
  readonly dueAtMs: number;
  /** The exchange holding it. */
  readonly exchange: Exchange;
  readonly message: Message;
}

interface DelayedEntry {
  readonly dueAtMs: number;
  /** Publish order, breaking ties between equal due times. */
  readonly sequence: number;
  readonly exchange: DelayedExchange;
  /** The message as released: its x-delay header already negated, as the plugin does. */
  readonly message: Message;
  readonly location: MessageLocation | undefined;
}

/** The name of the hidden message store of a durable delayed exchange. */
export function delayedStoreName(exchangeName: string): string {
  return `${STORE_NAME_PREFIX}${exchangeName}`;
}

/** One vhost's delayed messages. */
export class DelayScheduler {
  private readonly heap: DelayedEntry[] = [];
  private readonly stores = new Map<DelayedExchange, QueueMessageStore>();
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private nextSequence = 0;
  private stopped = false;

  constructor(
    private readonly host: DelayHost,
    private readonly alarms: ResourceAlarm,
    private readonly persistence: Persistence | undefined,
    private readonly logger: Logger | undefined,
  ) {}

  /** Messages held now. */
  get size(): number {
    return this.heap.length;
  }

  /** Per delayed exchange (by name): messages held and when the next one is due (ms since the epoch). */
  heldByExchange(): Map<string, { count: number; nextDueAtMs: number }> {
    const held = new Map<string, { count: number; nextDueAtMs: number }>();
    for (const entry of this.heap) {
      const current = held.get(entry.exchange.name);
      if (current === undefined) held.set(entry.exchange.name, { count: 1, nextDueAtMs: entry.dueAtMs });
      else {
        current.count++;
        current.nextDueAtMs = Math.min(current.nextDueAtMs, entry.dueAtMs);
      }
    }
    return held;
  }

  /** Browsing: the messages held (by `exchange` only, when given), earliest due first: a sorted copy, consuming nothing. */
  held(exchange?: Exchange): HeldMessage[] {
    const held = exchange === undefined ? [...this.heap] : this.heap.filter((entry) => entry.exchange === exchange);
    return held.sort((a, b) => (earlier(a, b) ? -1 : 1));
  }

  /**
   * Holds a message published to a delayed exchange with an x-delay in (0, 2^32-1] ms; returns undefined
   * (route it now) for any other exchange or delay, as the plugin does.
   */
  hold(exchange: Exchange, message: Message): Held | undefined {
    if (!(exchange instanceof DelayedExchange) || this.stopped) return undefined;
    const delayMs = delayOf(message);
    if (delayMs === undefined || delayMs <= 0 || delayMs > DELAY_MAX_MS) return undefined;
    const dueAtMs = Date.now() + delayMs;
    // The plugin sets x-delay to minus the delay on release, so that a later delayed exchange routes it at once.
    const properties = message.properties;
    const released = message.withProperties({ ...properties, headers: { ...properties.headers, 'x-delay': -delayMs } });
    const store = message.persistent ? this.stores.get(exchange) : undefined;
    const location = store?.append(storedRecord(released, dueAtMs));
    this.push({ dueAtMs, sequence: this.nextSequence++, exchange, message: released, location });
    return { persisted: location !== undefined };
  }

  /** Opens the store of a durable delayed exchange (declared or restored) and takes back what it holds. */
  open(exchange: Exchange): void {
    if (!(exchange instanceof DelayedExchange) || !exchange.options.durable || this.persistence === undefined) return;
    if (this.stores.has(exchange)) return;
    const name = delayedStoreName(exchange.name);
    const { store, recovery } = this.persistence.messages.openQueue(this.host.name, name, Number.POSITIVE_INFINITY);
    this.stores.set(exchange, store);
    if (recovery.droppedRecords > 0 || recovery.warnings.length > 0) {
      this.logger?.warn(
        { vhost: this.host.name, exchange: exchange.name, droppedRecords: recovery.droppedRecords, warnings: recovery.warnings },
        'delayed messages recovered with losses',
      );
    }
    for (const { location, message } of recovery.messages) this.recover(exchange, location, message);
    for (const location of recovery.pagedOut.locations) this.recover(exchange, location, store.read(location));
  }

  /** True when `name` is the store of a delayed exchange of this vhost (its files are not an orphan queue's). */
  hasStore(name: string): boolean {
    for (const exchange of this.stores.keys()) if (delayedStoreName(exchange.name) === name) return true;
    return false;
  }

  /** A deleted exchange's pending messages are dropped and its store destroyed. */
  exchangeRemoved(exchange: Exchange): void {
    if (!(exchange instanceof DelayedExchange)) return;
    const store = this.stores.get(exchange);
    this.stores.delete(exchange);
    store?.destroy();
    let kept = 0;
    for (const entry of this.heap) {
      if (entry.exchange === exchange) this.alarms.held(-entry.message.body.length);
      else this.heap[kept++] = entry;
    }
    if (kept === this.heap.length) return;
    this.heap.length = kept;
    for (let index = (kept >> 1) - 1; index >= 0; index--) this.siftDown(index);
    if (kept === 0 && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAtMs = Number.POSITIVE_INFINITY;
    }
  }

  /** Stops the timer for good (the node is shutting down and its stores are about to close). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private recover(exchange: DelayedExchange, location: MessageLocation, stored: StoredMessage): void {
    const { message, dueAtMs } = fromStoredRecord(stored);
    this.push({ dueAtMs, sequence: this.nextSequence++, exchange, message, location });
  }

  private push(entry: DelayedEntry): void {
    this.alarms.held(entry.message.body.length);
    this.heap.push(entry);
    this.siftUp(this.heap.length - 1);
    this.arm();
  }

  /** Arms the timer for the earliest message unless it is already armed for that time or earlier. */
  private arm(): void {
    const first = this.heap[0];
    if (first === undefined || this.stopped) return;
    if (this.timer !== undefined && this.timerAtMs <= first.dueAtMs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const waitMs = Math.min(Math.max(0, first.dueAtMs - Date.now()), TIMER_MAX_MS);
    this.timerAtMs = Date.now() + waitMs;
    this.timer = setTimeout(() => this.releaseDue(), waitMs);
    // Held messages must not keep the process alive on their own.
    this.timer.unref();
  }

  private releaseDue(): void {
    this.timer = undefined;
    this.timerAtMs = Number.POSITIVE_INFINITY;
    if (this.stopped) return;
    const now = Date.now();
    const stored: DelayedEntry[] = [];
    for (let first = this.heap[0]; first !== undefined && first.dueAtMs <= now; first = this.heap[0]) {
      this.pop();
      this.alarms.held(-first.message.body.length);
      this.release(first);
      if (first.location !== undefined) stored.push(first);
    }
    if (stored.length > 0) this.acknowledgeWhenDurable(stored);
    this.arm();
  }

  /** Routes a due message through its exchange now, as a publish would (a deleted exchange drops it). */
  private release(entry: DelayedEntry): void {
    if (entry.exchange.deleted) return;
    try {
      for (const queue of this.host.route(entry.exchange, entry.message, [])) {
        if (!queue.deleted) queue.enqueue(entry.message);
      }
    } catch (error) {
      this.logger?.error({ vhost: this.host.name, exchange: entry.exchange.name, error }, 'could not route a delayed message');
    }
  }

  /** Acknowledges released records once the copies they were routed to are on disk too. */
  private acknowledgeWhenDurable(entries: readonly DelayedEntry[]): void {
    this.host.syncMessages((error) => {
      // Unacknowledged, a record is released again after a restart: at least once, never lost.
      if (error !== undefined) return;
      for (const { exchange, location } of entries) {
        const store = this.stores.get(exchange);
        if (store !== undefined && location !== undefined) store.ack(location);
      }
    });
  }

  private pop(): void {
    const last = this.heap.pop();
    if (last === undefined || this.heap.length === 0) return;
    this.heap[0] = last;
    this.siftDown(0);
  }

  private siftUp(start: number): void {
    const heap = this.heap;
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!earlier(heap[index] as DelayedEntry, heap[parent] as DelayedEntry)) return;
      swap(heap, index, parent);
      index = parent;
    }
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    let index = start;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < heap.length && earlier(heap[left] as DelayedEntry, heap[smallest] as DelayedEntry)) smallest = left;
      if (right < heap.length && earlier(heap[right] as DelayedEntry, heap[smallest] as DelayedEntry)) smallest = right;
      if (smallest === index) return;
      swap(heap, index, smallest);
      index = smallest;
    }
  }
}

function earlier(a: DelayedEntry, b: DelayedEntry): boolean {
  return a.dueAtMs < b.dueAtMs || (a.dueAtMs === b.dueAtMs && a.sequence < b.sequence);
}

function swap(heap: DelayedEntry[], a: number, b: number): void {
  const held = heap[a] as DelayedEntry;
  heap[a] = heap[b] as DelayedEntry;
  heap[b] = held;
}

/** The stored form of a held message: as released, plus the private header with its due time. */
function storedRecord(message: Message, dueAtMs: number): StoredMessage {
  const properties = message.properties;
  const privateHeader: FieldTable = { 'due-at': dueAtMs };
  if (message.extraRoutingKeys.length > 0) privateHeader['routing-keys'] = [...message.extraRoutingKeys];
  const headers = { ...properties.headers, [STORED_HEADER]: privateHeader };
  return {
    exchange: message.exchange,
    routingKey: message.routingKey,
    rawProperties: encodeBasicProperties({ ...properties, headers }),
    body: message.body,
  };
}

/** Reads a stored held message back; a record without a readable due time is due at once. */
function fromStoredRecord(stored: StoredMessage): { message: Message; dueAtMs: number } {
  const read = new Message(stored.exchange, stored.routingKey, stored.rawProperties, stored.body);
  const { [STORED_HEADER]: privateHeader, ...headers } = read.properties.headers ?? {};
  const table = isFieldTable(privateHeader) ? privateHeader : {};
  const dueAt = table['due-at'];
  const keys = table['routing-keys'];
  const extraRoutingKeys = Array.isArray(keys) ? keys.filter((key): key is string => typeof key === 'string') : [];
  const rawProperties = encodeBasicProperties({ ...read.properties, headers });
  return {
    message: new Message(stored.exchange, stored.routingKey, rawProperties, stored.body, extraRoutingKeys),
    dueAtMs: typeof dueAt === 'number' ? dueAt : typeof dueAt === 'bigint' ? Number(dueAt) : 0,
  };
}

function isFieldTable(value: FieldValue | undefined): value is FieldTable {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === null;
}
