/**
 * Records what happened to a task attempt through the broker: state events on the events exchange,
 * the reply to reply_to, the copy that waits for a retry, the copy in the dead-letter queue. Publishes
 * go over one channel in confirm mode, and every method resolves only once the broker confirmed all it
 * published, so the caller may then ack the delivery.
 */
import type { AMQPChannel, AMQPMessage, AMQPProperties, Field } from '@cloudamqp/amqp-client';
import {
  TASK_CONTENT_TYPE,
  TASK_REPLY_TYPE,
  TASK_EVENTS_EXCHANGE,
  TASK_PROTOCOL_VERSION,
  TaskHeader,
  deadLetterQueueName,
  eventRoutingKey,
  taskQueueName,
  type TaskError,
  type TaskEvent,
  type TaskEventKind,
  type TaskReply,
} from './protocol.js';
import { declareWaitQueue } from './topology.js';
import { coalesceWrites } from './socket-writes.js';
import { eventBatchesOn, type EventBatches } from './event-batches.js';
import { copyHeaders, type TaskHeaders } from './worker-message.js';
import { successBodies, type EncodedSuccess } from './success-bodies.js';
import { utf8 } from './task-message.js';

const PERSISTENT = 2;
const TRANSIENT_JSON_PROPERTIES: AMQPProperties = { contentType: TASK_CONTENT_TYPE, deliveryMode: 1 };

export type { EncodedSuccess } from './success-bodies.js';

/** Publishes the outcomes of task attempts on a confirm-mode channel. */
export class OutcomeRecorder {
  /** The worker id as a JSON string, for the success bodies written by hand. */
  private readonly workerIdJson: string;
  /** The persistent events of each turn, sent together (the transient 'started' events go on their own). */
  private readonly events: EventBatches;

  constructor(
    /** The confirm-mode publishing channel (progress reports and cancel replies go out on it too). */
    readonly channel: AMQPChannel,
    private readonly workerId: string,
  ) {
    this.workerIdJson = JSON.stringify(workerId);
    this.events = eventBatchesOn(channel);
  }

  /**
   * The 'started' event of an attempt whose handler started at `startedAt`, transient: it costs the
   * broker no disk write, and losing it in a broker crash only leaves the record 'queued' until the
   * outcome's (persistent) event arrives.
   */
  async started(task: TaskHeaders, startedAt: number): Promise<void> {
    const body = this.encodeEvent('started', task, { at: startedAt, worker: this.workerId });
    await this.publish(TASK_EVENTS_EXCHANGE, eventRoutingKey({ kind: 'started', name: task.name }), body, TRANSIENT_JSON_PROPERTIES);
  }

  /**
   * The 'succeeded' event and reply of `result`, for the attempt whose handler started at `startedAt`;
   * throws a TypeError when JSON cannot carry the result.
   */
  encodeSuccess(message: AMQPMessage, task: TaskHeaders, result: unknown, startedAt: number): EncodedSuccess {
    return successBodies(task, result, Date.now(), startedAt, this.workerIdJson, replyQueueOf(message) !== undefined);
  }

  /** What an outcome event carries about the start of its attempt (nothing when no handler ran). */
  private start(startedAt: number | undefined): Pick<TaskEvent, 'startedAt' | 'worker'> {
    return startedAt === undefined ? {} : { startedAt, worker: this.workerId };
  }

  /**
   * Publishes the 'succeeded' event and the reply; resolves once both are confirmed. Without a reply,
   * the event's own confirm is the answer (no settleAll around it: a task in flight keeps fewer objects
   * alive, which a worker of thousands of tasks a second pays for at every scavenge).
   */
  succeeded(message: AMQPMessage, task: TaskHeaders, success: EncodedSuccess): Promise<unknown> {
    const event = this.publishEvent(success.event, 'succeeded', task.name);
    const reply = this.publishReply(message, task, success.reply);
    return reply === undefined ? event : settleAll([event, reply]);
  }

  /** The 'failed' event and the reply of an attempt that must not be retried (whose handler started at `startedAt`, if it ran). */
  failed(message: AMQPMessage, task: TaskHeaders, error: TaskError, startedAt: number | undefined): Promise<void> {
    const event = this.encodeEvent('failed', task, { error, ...this.start(startedAt) });
    const reply = encodeReply(task, { state: 'failed', error });
    return settleAll([this.publishEvent(event, 'failed', task.name), this.publishReply(message, task, reply)]);
  }

  /**
   * A copy of the message with the next attempt number, parked in the wait queue of `delayMs` (already
   * rounded with waitQueueDelayMs) or, for no delay, straight in the work queue; then the 'retrying' event.
   */
  async retrying(message: AMQPMessage, task: TaskHeaders, error: TaskError, delayMs: number, startedAt: number | undefined): Promise<void> {
    const queue = delayMs > 0 ? await declareWaitQueue(this.channel, task.name, delayMs) : taskQueueName(task.name);
    // Before the copy goes out: the broker starts its TTL later, so the next attempt never precedes retryAt.
    const at = Date.now();
    const copy = this.publish('', queue, message.body, copyProperties(message, { [TaskHeader.attempt]: task.attempt + 1 }));
    const event = this.encodeEvent('retrying', task, { at, error, retryAt: at + delayMs, ...this.start(startedAt) });
    await settleAll([copy, this.publishEvent(event, 'retrying', task.name)]);
  }

  /** A copy of the message in the dead-letter queue with x-task-error, the 'dead' event and the reply. */
  dead(message: AMQPMessage, task: TaskHeaders, error: TaskError, startedAt: number | undefined): Promise<void> {
    const event = this.encodeEvent('dead', task, { error, ...this.start(startedAt) });
    const reply = encodeReply(task, { state: 'dead', error });
    return settleAll([
      this.deadLetter(message, task.name, error),
      this.publishEvent(event, 'dead', task.name),
      this.publishReply(message, task, reply),
    ]);
  }

  /** A copy of a message that is not a readable task (a poison message) in `taskName`'s dead-letter queue. */
  async poison(message: AMQPMessage, taskName: string, error: TaskError): Promise<void> {
    await this.deadLetter(message, taskName, error);
  }

  private deadLetter(message: AMQPMessage, taskName: string, error: TaskError): Promise<number> {
    const properties = copyProperties(message, { [TaskHeader.error]: JSON.stringify(error) });
    return this.publish('', deadLetterQueueName(taskName), message.body, properties);
  }

  private encodeEvent(kind: TaskEventKind, task: TaskHeaders, details: Partial<TaskEvent>): string {
    const event: TaskEvent = {
      protocol: TASK_PROTOCOL_VERSION,
      kind,
      id: task.id,
      name: task.name,
      run: task.run,
      attempt: task.attempt,
      at: Date.now(),
      ...details,
    };
    return JSON.stringify(event);
  }

  private publishEvent(body: string, kind: TaskEventKind, name: string): Promise<number> {
    return this.events.add(kind, name, body);
  }

  /** Publishes the reply when the message asked for one (reply_to); replies are transient, like RPC replies. */
  private publishReply(message: AMQPMessage, task: TaskHeaders, body: string): Promise<number> | undefined {
    const replyTo = replyQueueOf(message);
    if (replyTo === undefined) return undefined;
    const chosen = message.properties.headers?.[TaskHeader.replyCorrelationId];
    const correlationId = typeof chosen === 'string' && chosen !== '' ? chosen : task.id;
    const properties = { contentType: TASK_CONTENT_TYPE, type: TASK_REPLY_TYPE, correlationId };
    // After the event of the same outcome, which waits for the end of the turn (EventBatches).
    return this.events.afterEvents(() => this.channel.basicPublish('', replyTo, utf8(body), properties));
  }

  /** Every publish of the recorder: the writes of one event-loop turn leave in one system call. */
  private publish(exchange: string, routingKey: string, body: string | Uint8Array | null, properties: AMQPProperties): Promise<number> {
    coalesceWrites(this.channel);
    return this.channel.basicPublish(exchange, routingKey, typeof body === 'string' ? utf8(body) : body, properties);
  }
}

function encodeReply(task: TaskHeaders, outcome: Pick<TaskReply, 'state' | 'result' | 'error'>): string {
  const reply: TaskReply = { protocol: TASK_PROTOCOL_VERSION, id: task.id, name: task.name, attempt: task.attempt, ...outcome };
  return JSON.stringify(reply);
}

/**
 * The message's properties for a persistent copy: per-message expiration dropped, headers changed, and
 * user_id dropped (the broker refuses a publish whose user_id is not the publishing connection's user,
 * and the worker usually logs in as another user than the submitter).
 */
function copyProperties(message: AMQPMessage, changes: Record<string, Field>): AMQPProperties {
  const { expiration: _expiration, userId: _userId, ...properties } = message.properties;
  return { ...properties, headers: copyHeaders(message.properties, changes), deliveryMode: PERSISTENT };
}

/** Waits for every publish to be confirmed; rejects with the first failure (in the order given) once all have settled. */
async function settleAll(publishes: (Promise<number> | undefined)[]): Promise<void> {
  // Every publish is handled at once, so one that fails while an earlier one is awaited is no unhandled rejection.
  for (const publish of publishes) publish?.catch(ignore);
  let failure: { error: unknown } | undefined;
  for (const publish of publishes) {
    try {
      await publish;
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure !== undefined) throw failure.error;
}

function ignore(): void {}

/** The queue the task message asks its reply to go to (a non-empty reply_to), if any. */
function replyQueueOf(message: AMQPMessage): string | undefined {
  const replyTo = message.properties.replyTo;
  return replyTo === '' ? undefined : replyTo;
}
