/**
 * A test's view of one task name over plain AMQP (@cloudamqp/amqp-client), written against the task
 * protocol rather than the SDK: it publishes raw task messages, records every state event of the name
 * and every reply, and counts the messages of its queues.
 */
import { randomUUID } from 'node:crypto';
import { AMQPClient, type AMQPChannel, type AMQPMessage, type Field } from '@cloudamqp/amqp-client';
import {
  TASK_CONTENT_TYPE,
  TASK_EVENTS_EXCHANGE,
  TASK_PROTOCOL_VERSION,
  TaskHeader,
  deadLetterQueueName,
  taskQueueName,
  type Backoff,
  type TaskEvent,
  type TaskEventKind,
  type TaskReply,
} from '../../src/tasks/protocol.js';
import { declareEventTopology, declareTaskTopology } from '../../src/tasks/topology.js';
import { waitFor } from './amqp.js';

/** How a raw task message is built; unset fields follow the protocol's defaults. */
export interface RawTask {
  id?: string;
  attempt?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  backoff?: Backoff;
  /** false: no reply_to. Default: the probe's reply queue. */
  reply?: boolean;
  /** Extra headers, or `undefined` values to leave a header out. */
  headers?: Record<string, Field>;
  /** The raw body instead of JSON.stringify(payload). */
  body?: string;
}

/** A reply the probe received. */
export interface ReceivedReply {
  correlationId: string | undefined;
  reply: TaskReply;
}

/** Publishes task messages of one task name and records its events and replies. */
export class TaskProbe {
  /** Every event of the task name, in arrival order. */
  readonly events: TaskEvent[] = [];
  readonly replies: ReceivedReply[] = [];

  private constructor(
    private readonly connection: AMQPClient,
    private readonly channel: AMQPChannel,
    readonly name: string,
    private readonly replyQueue: string,
  ) {}

  /** Connects, declares the name's topology, and starts recording its events and replies. */
  static async open(url: string, name: string): Promise<TaskProbe> {
    const connection = new AMQPClient(url);
    await connection.connect();
    const channel = await connection.channel();
    await channel.confirmSelect();
    await declareEventTopology(channel);
    await declareTaskTopology(channel, name);
    const events = await channel.queueDeclare('', { exclusive: true, durable: false, autoDelete: true });
    await channel.queueBind(events.name, TASK_EVENTS_EXCHANGE, `*.${name}`);
    const replies = await channel.queueDeclare('', { exclusive: true, durable: false, autoDelete: true });
    const probe = new TaskProbe(connection, channel, name, replies.name);
    await channel.basicConsume(events.name, { noAck: true }, (message) => {
      // A batch (routing key batch.<name>) holds several events in a JSON array.
      const body = JSON.parse(message.bodyString() ?? '') as TaskEvent | TaskEvent[];
      probe.events.push(...(Array.isArray(body) ? body : [body]));
    });
    await channel.basicConsume(replies.name, { noAck: true }, (message: AMQPMessage) => {
      probe.replies.push({ correlationId: message.properties.correlationId, reply: JSON.parse(message.bodyString() ?? '') as TaskReply });
    });
    return probe;
  }

  /** Publishes a task message to the work queue (confirmed) and returns its id. */
  async submit(payload: unknown, task: RawTask = {}): Promise<string> {
    const id = task.id ?? randomUUID();
    const backoff = task.backoff ?? { kind: 'fixed', delayMs: 50, jitter: false };
    const headers: Record<string, Field> = {
      [TaskHeader.protocol]: TASK_PROTOCOL_VERSION,
      [TaskHeader.id]: id,
      [TaskHeader.name]: this.name,
      [TaskHeader.attempt]: task.attempt ?? 1,
      [TaskHeader.maxAttempts]: task.maxAttempts ?? 1,
      [TaskHeader.timeoutMs]: task.timeoutMs ?? 0,
      [TaskHeader.enqueuedAt]: Date.now(),
      [TaskHeader.backoff]: backoff.kind,
      [TaskHeader.backoffDelayMs]: backoff.delayMs,
      [TaskHeader.backoffJitter]: backoff.jitter,
      [TaskHeader.run]: 1,
    };
    for (const [key, value] of Object.entries(task.headers ?? {})) {
      if (value === undefined) delete headers[key];
      else headers[key] = value;
    }
    await this.channel.basicPublish('', taskQueueName(this.name), task.body ?? JSON.stringify(payload), {
      contentType: TASK_CONTENT_TYPE,
      deliveryMode: 2,
      headers,
      ...(task.reply === false ? {} : { replyTo: this.replyQueue, correlationId: id }),
    });
    return id;
  }

  /** The events of task `id`, in arrival order. */
  eventsOf(id: string): TaskEvent[] {
    return this.events.filter((event) => event.id === id);
  }

  /** Kinds of the events of task `id`, in arrival order. */
  kindsOf(id: string): TaskEventKind[] {
    return this.eventsOf(id).map((event) => event.kind);
  }

  /** Waits for an event of task `id` of the given kind. */
  async waitForEvent(id: string, kind: TaskEventKind, timeoutMs = 5000): Promise<TaskEvent> {
    await waitFor(() => this.eventsOf(id).some((event) => event.kind === kind), timeoutMs, `${kind} event of ${id}`);
    return this.eventsOf(id).find((event) => event.kind === kind) as TaskEvent;
  }

  /** Waits for the reply of task `id`. */
  async waitForReply(id: string, timeoutMs = 5000): Promise<TaskReply> {
    await waitFor(() => this.replies.some((reply) => reply.reply.id === id), timeoutMs, `reply of ${id}`);
    const received = this.replies.find((reply) => reply.reply.id === id) as ReceivedReply;
    if (received.correlationId !== id) throw new Error(`reply correlation id ${received.correlationId} is not the task id ${id}`);
    return received.reply;
  }

  /** Ready messages and consumers of the name's work queue. */
  async workQueue(): Promise<{ messageCount: number; consumerCount: number }> {
    return this.channel.queueDeclare(taskQueueName(this.name), { passive: true });
  }

  /** Takes every message from the name's dead-letter queue. */
  async drainDeadLetters(): Promise<AMQPMessage[]> {
    const messages: AMQPMessage[] = [];
    for (;;) {
      const message = await this.channel.basicGet(deadLetterQueueName(this.name), { noAck: true });
      if (message === null) return messages;
      messages.push(message);
    }
  }

  /** Publishes a message of any shape straight to the work queue (for poison messages). */
  async publishRaw(body: string, headers: Record<string, Field>): Promise<void> {
    await this.channel.basicPublish('', taskQueueName(this.name), body, { deliveryMode: 2, headers });
  }

  /** Closes the probe's connection (its exclusive queues go with it). */
  async close(): Promise<void> {
    await this.connection.close();
  }
}
