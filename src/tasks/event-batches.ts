/**
 * Packs the state events a worker records (or a client's submissions' queued events) in one event-loop
 * turn into one message per task name.
 *
 * A busy worker finishes many short tasks in a turn (their deliveries arrive together), a busy client
 * submits many, and each event would otherwise be a message of its own: parsed, routed, written to
 * disk, delivered to the keeper, parsed again and acknowledged. Sent together, the events of a turn cost the broker and
 * the keeper one message. A turn with a single event of a name sends it as before (routing key
 * `<kind>.<name>`, the event as the body); with more, the body is a JSON array of the events and the
 * routing key `batch.<name>` (docs/task-protocol.md, section 3). A batch holds at most
 * BATCH_EVENTS_MAX events and BATCH_CHARS_MAX characters of text; the next event starts another one
 * (an event longer than that on its own goes alone, as it would have without batches), so a batch
 * never makes a message the broker refuses for its size where its events alone would pass, nor hands
 * the keeper more applies at once than its prefetch allows for. Every event of a message resolves
 * with that message's confirm. Replies wait for the events of their turn (afterEvents), so that they
 * still follow their events on the wire.
 */
import type { AMQPChannel, AMQPProperties } from '@cloudamqp/amqp-client';
import { EVENT_BATCH_KIND, TASK_CONTENT_TYPE, TASK_EVENTS_EXCHANGE, type TaskEventKind } from './protocol.js';
import { holdWrites } from './socket-writes.js';
import { utf8 } from './task-message.js';

/** Most events in one batch message. */
export const BATCH_EVENTS_MAX = 128;

/**
 * Most characters of event text in one batch message: at most 192 KiB of UTF-8, far below any broker's
 * message size limit (RabbitMQ's default is 16 MiB; Warren's is configurable).
 */
export const BATCH_CHARS_MAX = 64 * 1024;

/** Properties of an event message: persistent JSON. */
const EVENT_PROPERTIES: AMQPProperties = { contentType: TASK_CONTENT_TYPE, deliveryMode: 2 };

/** Sends one message to the events exchange; resolves once the broker confirmed it. */
export type SendEvents = (routingKey: string, body: string) => Promise<number>;

/** The events of one task name gathered in this turn. */
class PendingBatch {
  readonly bodies: string[] = [];
  /** Characters of the bodies, summed. */
  chars = 0;
  readonly confirmed: Promise<number>;
  resolve!: (sequence: number) => void;
  reject!: (error: unknown) => void;

  constructor(
    readonly name: string,
    /** The kind of the first event (the routing key of a batch of one). */
    readonly kind: TaskEventKind,
  ) {
    this.confirmed = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/** The events a worker or a client sends, gathered by task name until the end of the event-loop turn. */
export class EventBatches {
  /** The batch each task name is filling in this turn. */
  #batches = new Map<string, PendingBatch>();
  /** Every batch of this turn, full ones included, in the order they were started. */
  #started: PendingBatch[] = [];
  /** Publishes to make once this turn's events are sent (the replies that tell of them). */
  #after: (() => void)[] = [];
  #flushScheduled = false;
  readonly #flush = (): void => this.around(this.#sendAllNow);
  readonly #sendAllNow = (): void => this.#sendAll();

  constructor(
    private readonly send: SendEvents,
    /** Runs the sends of a turn (holdWrites, so that they leave in one system call); by default, just runs them. */
    private readonly around: (sendAll: () => void) => void = (sendAll) => sendAll(),
  ) {}

  /** Sends the event `body` (JSON text of an event of `kind` about task name `name`) at the end of this turn; resolves with its message's confirm. */
  add(kind: TaskEventKind, name: string, body: string): Promise<number> {
    let batch = this.#batches.get(name);
    if (batch === undefined || batch.bodies.length >= BATCH_EVENTS_MAX || batch.chars + body.length > BATCH_CHARS_MAX) {
      batch = new PendingBatch(name, kind);
      this.#batches.set(name, batch);
      this.#started.push(batch);
      this.#scheduleFlush();
    }
    batch.bodies.push(body);
    batch.chars += body.length;
    return batch.confirmed;
  }

  /**
   * Makes `publish` once the events added so far in this turn are sent, so that whoever hears of an
   * outcome by its reply finds its event ahead of it; resolves or rejects as `publish` does.
   */
  afterEvents(publish: () => Promise<number>): Promise<number> {
    return new Promise((resolve, reject) => this.afterEventsThen(publish, resolve, reject));
  }

  /** afterEvents with callbacks instead of a promise of its own: `confirmed` or `failed` is called as `publish` settles. */
  afterEventsThen(publish: () => Promise<number>, confirmed: (sequence: number) => void, failed: (error: unknown) => void): void {
    this.#scheduleFlush();
    this.#after.push(() => {
      try {
        publish().then(confirmed, failed);
      } catch (error) {
        failed(error);
      }
    });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(this.#flush);
  }

  #sendAll(): void {
    this.#flushScheduled = false;
    const batches = this.#started;
    this.#started = [];
    this.#batches.clear();
    for (const batch of batches) {
      const { bodies, name } = batch;
      const single = bodies.length === 1;
      let sending: Promise<number>;
      try {
        sending = this.send(single ? `${batch.kind}.${name}` : `${EVENT_BATCH_KIND}.${name}`, single ? (bodies[0] as string) : jsonArray(bodies));
      } catch (error) {
        batch.reject(error);
        continue;
      }
      sending.then(batch.resolve, batch.reject);
    }
    const after = this.#after;
    this.#after = [];
    for (const publish of after) publish();
  }
}

/**
 * EventBatches that publish to the events exchange on `channel` (in confirm mode). Not held back with
 * coalesceWrites, since the batches go out from setImmediate, where a held write would wait a whole
 * turn: the writes are held only while the turn's batches (and the publishes after them) are made.
 */
export function eventBatchesOn(channel: AMQPChannel): EventBatches {
  return new EventBatches(
    (routingKey, body) => channel.basicPublish(TASK_EVENTS_EXCHANGE, routingKey, utf8(body), EVENT_PROPERTIES),
    (sendAll) => holdWrites(channel, sendAll),
  );
}

/**
 * `[` + the bodies joined by commas + `]`, made by one join: the brackets go on the first and last
 * bodies (short strings), where wrapping the joined text would make a string of three parts, which the
 * UTF-8 encoding of the message body then copies whole once more to flatten. Changes `bodies`
 * (two or more), which the caller drops.
 */
export function jsonArray(bodies: string[]): string {
  const last = bodies.length - 1;
  bodies[0] = `[${bodies[0] as string}`;
  bodies[last] = `${bodies[last] as string}]`;
  return bodies.join(',');
}
