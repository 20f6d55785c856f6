/**
 * One connection of a TasksClient: a confirm-mode channel that declares, publishes and consumes the
 * client's exclusive reply queue. A link that lost its connection stays lost; the client opens a new
 * one on its next call, and whoever waited on the old reply queue learns it through onLost.
 */
import type { AMQPChannel, AMQPClient, AMQPMessage } from '@cloudamqp/amqp-client';
import { coalesceWrites } from './socket-writes.js';
import { eventBatchesOn, type EventBatches } from './event-batches.js';
import type { Logger } from '../util/logger.js';
import { openAmqpConnection } from './amqp-connection.js';
import { utf8, type OutgoingMessage } from './task-message.js';
import { declareEventTopology, declareKeeperRequestsQueue, declareTaskTopology, declareWaitQueue } from './topology.js';

/** Called once when a link's connection or channel is gone. */
export type LostListener = () => void;

/** A client's connection to the broker. */
export class ClientLink {
  private lost = false;
  private readonly lostListeners = new Set<LostListener>();
  /** Declarations done (or in flight) on this connection, by a key naming what was declared. */
  private readonly declared = new Map<string, Promise<unknown>>();
  /** What submit() needs, once declared: it then publishes at once, with no declaration to wait for. */
  private replyQueueName: string | undefined;
  private eventTopologyDeclared = false;
  private readonly declaredTaskNames = new Set<string>();

  /** The 'queued' events of submissions, sent together at the end of each turn, task messages after them. */
  private readonly queuedEvents: EventBatches;

  private constructor(
    private readonly connection: AMQPClient,
    private readonly channel: AMQPChannel,
    private readonly onReply: (message: AMQPMessage) => void,
    private readonly logger: Logger,
  ) {
    this.queuedEvents = eventBatchesOn(channel);
  }

  /** Connects, opens the confirm-mode channel, and routes reply-queue messages to `onReply`. */
  static async open(url: string, logger: Logger, onReply: (message: AMQPMessage) => void): Promise<ClientLink> {
    const connection = await openAmqpConnection(url, 'warren tasks client', logger);
    try {
      const channel = await connection.channel();
      await channel.confirmSelect();
      const link = new ClientLink(connection, channel, onReply, logger);
      connection.ondisconnect = (error) => link.markLost(error?.message ?? 'connection closed');
      channel.onerror = (reason) => link.markLost(reason);
      return link;
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
  }

  /** True once the connection or the channel is gone. */
  get isLost(): boolean {
    return this.lost;
  }

  /** Calls `listener` when the link is lost (at once if it already is); returns a function that stops listening. */
  onLost(listener: LostListener): () => void {
    if (this.lost) {
      queueMicrotask(listener);
      return () => {};
    }
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** The name of this connection's exclusive, server-named reply queue, declared and consumed on first use. */
  replyQueue(): Promise<string> {
    return this.once('reply-queue', async () => {
      const { name } = await this.channel.queueDeclare('', { durable: false, exclusive: true, autoDelete: true });
      await this.channel.basicConsume(name, { noAck: true, exclusive: true }, this.onReply);
      this.replyQueueName = name;
      return name;
    });
  }

  /** The reply queue's name once replyQueue() has declared it; undefined before. */
  get declaredReplyQueue(): string | undefined {
    return this.replyQueueName;
  }

  /** True when this link can take a task of `taskName` with no declaration to wait for (the reply queue aside: see declaredReplyQueue). */
  isReadyFor(taskName: string): boolean {
    return !this.lost && this.eventTopologyDeclared && this.declaredTaskNames.has(taskName);
  }

  /** Declares the events exchange and keeper queue, once per connection. */
  ensureEventTopology(): Promise<void> {
    return this.once('events', async () => {
      await declareEventTopology(this.channel);
      this.eventTopologyDeclared = true;
    });
  }

  /** Declares the keeper requests queue, once per connection. */
  ensureKeeperRequestsQueue(): Promise<void> {
    return this.once('keeper-requests', () => declareKeeperRequestsQueue(this.channel));
  }

  /** Declares a task name's work and dead-letter queues, once per connection. */
  ensureTaskQueues(taskName: string): Promise<void> {
    return this.once(`task:${taskName}`, async () => {
      await declareTaskTopology(this.channel, taskName);
      this.declaredTaskNames.add(taskName);
    });
  }

  /** Declares the wait queue of a task name and (rounded) delay, once per connection; returns its name. */
  ensureWaitQueue(taskName: string, delayMs: number): Promise<string> {
    return this.once(`wait:${taskName}:${delayMs}`, () => declareWaitQueue(this.channel, taskName, delayMs));
  }

  /**
   * Submits a task (docs/task-protocol.md, section 7): its 'queued' event `queuedEvent` (JSON text) joins
   * the events this link sends to the events exchange at the end of the turn, one message per task name,
   * and the task message follows them on the wire (the broker takes a channel's publishes in order).
   * Resolves once both are confirmed; rejects when the task message was not. An event the
   * broker refused while it took the task message fails nothing: the task is submitted, and its record
   * starts with its first event from a worker (without the payload and options the event held).
   */
  submit(routingKey: string, name: string, queuedEvent: string, message: OutgoingMessage): Promise<void> {
    // No closure of this function's own: whatever one refers to lives as long as the closure, and the
    // confirms take milliseconds. The task message is held only until it is published (taskPublisher),
    // the rest by two counted confirms (bothConfirmed), not Promise.all over two derived promises: a
    // client of thousands of submits a second pays for every object in flight at each scavenge.
    const confirms = bothConfirmed(this.logger, name);
    this.queuedEvents.add('queued', name, queuedEvent).then(confirms.eventConfirmed, confirms.eventRefused);
    this.queuedEvents.afterEventsThen(taskPublisher(this.channel, routingKey, message), confirms.taskConfirmed, confirms.taskRefused);
    return confirms.both;
  }

  /** Publishes and resolves once the broker confirmed the message. */
  publish(exchange: string, routingKey: string, message: OutgoingMessage): Promise<number> {
    coalesceWrites(this.channel);
    return this.channel.basicPublish(exchange, routingKey, utf8(message.body), message.properties);
  }

  /** Closes the connection; the link counts as lost from then on. */
  async close(): Promise<void> {
    const wasLost = this.lost;
    this.notifyLost('closed by the client');
    if (!wasLost && !this.connection.closed) await this.connection.close().catch(() => {});
  }

  private markLost(reason: string): void {
    if (this.lost) return;
    this.notifyLost(reason);
    // A channel closed by the broker leaves the connection useless to this link: close it.
    if (!this.connection.closed) void this.connection.close().catch(() => {});
  }

  private notifyLost(reason: string): void {
    if (this.lost) return;
    this.lost = true;
    this.logger.debug({ reason }, 'tasks client connection lost');
    const listeners = [...this.lostListeners];
    this.lostListeners.clear();
    for (const listener of listeners) listener();
  }

  /** Runs `declare` once per key; a failed declaration is forgotten so the next call tries again. */
  private once<T>(key: string, declare: () => Promise<T>): Promise<T> {
    let done = this.declared.get(key) as Promise<T> | undefined;
    if (done === undefined) {
      done = declare();
      this.declared.set(key, done);
      done.catch(() => this.declared.delete(key));
    }
    return done;
  }
}

/** Publishes `message` to queue `routingKey` when called (the only holder of the message meanwhile). */
function taskPublisher(channel: AMQPChannel, routingKey: string, message: OutgoingMessage): () => Promise<number> {
  return () => channel.basicPublish('', routingKey, utf8(message.body), message.properties);
}

/** A submit's two confirms: the queued event's (a refusal is only logged) and the task message's. */
interface SubmitConfirms {
  /** Resolves once both are confirmed, rejects when the task message was refused. */
  both: Promise<void>;
  eventConfirmed(): void;
  eventRefused(error: unknown): void;
  taskConfirmed(): void;
  taskRefused(error: unknown): void;
}

function bothConfirmed(logger: Logger, name: string): SubmitConfirms {
  let waiting = 2;
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const both = new Promise<void>((resolveBoth, rejectBoth) => {
    resolve = resolveBoth;
    reject = rejectBoth;
  });
  const confirmed = (): void => {
    if (--waiting === 0) resolve();
  };
  return {
    both,
    eventConfirmed: confirmed,
    eventRefused: (error) => {
      logger.warn({ err: String(error), task: name }, 'the broker did not take a submitted task\'s queued event');
      confirmed();
    },
    taskConfirmed: confirmed,
    taskRefused: reject,
  };
}
