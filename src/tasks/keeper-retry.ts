/**
 * A manual retry of a failed or dead task: a new run (run + 1) starts with its 'queued' event and a
 * fresh task message (attempt 1), and the task's old message leaves the dead-letter queue.
 */
import { randomUUID } from 'node:crypto';
import type { AMQPChannel, AMQPMessage } from '@cloudamqp/amqp-client';
import type { Logger } from '../util/logger.js';
import { TASK_EVENTS_EXCHANGE, TaskHeader, deadLetterQueueName, eventRoutingKey, taskQueueName } from './protocol.js';
import type { ResultStore, TaskRecord } from './store/result-store.js';
import { KeeperRequestError } from './task-errors.js';
import { jsonMessage, queuedEvent, taskMessage, type TaskMessageInput } from './task-message.js';
import { declareTaskTopology } from './topology.js';

/** Most dead-letter messages one retry looks through for the task's message. */
export const DEAD_LETTER_SCAN_MAX = 10_000;

/** What a retry works with: the store, and a confirm-mode channel the keeper owns. */
export interface RetryContext {
  store: ResultStore;
  channel: AMQPChannel;
  logger: Logger;
}

/**
 * Retries task `id`; resolves with its record after the new 'queued' event. Throws
 * KeeperRequestError 'not_found' for an unknown task and 'conflict' for one neither failed nor dead.
 */
export async function retryTask(context: RetryContext, id: string): Promise<TaskRecord> {
  const { store, channel, logger } = context;
  const record = await store.get(id);
  if (record === undefined) throw new KeeperRequestError('not_found', `no task ${id} is recorded`);
  if (record.state !== 'failed' && record.state !== 'dead') {
    throw new KeeperRequestError('conflict', `task ${id} is ${record.state}; only failed or dead tasks can be retried`);
  }
  const claim = await claimRun(store, record);
  await declareTaskTopology(channel, record.name);
  // The old message is held (unacknowledged) while the new run is published, and removed only then.
  const deadMessage = await takeDeadLetter(channel, record.name, id);
  let input: TaskMessageInput;
  try {
    input = retryInput(record, deadMessage);
  } catch (error) {
    await deadMessage?.nack(true).catch(() => {});
    await claim.release();
    throw error;
  }
  const event = queuedEvent(input, Date.now());
  try {
    const eventMessage = jsonMessage(event);
    await channel.basicPublish(TASK_EVENTS_EXCHANGE, eventRoutingKey(event), eventMessage.body, eventMessage.properties);
    const message = taskMessage(input);
    await channel.basicPublish('', taskQueueName(record.name), message.body, message.properties);
  } catch (error) {
    await deadMessage?.nack(true).catch(() => {});
    await claim.release();
    throw error;
  }
  await deadMessage?.ack();
  logger.info({ id, name: record.name, run: input.run, fromDeadLetterQueue: deadMessage !== undefined }, 'task retried');
  // The keeper queue brings the same event back later; applying it is idempotent.
  return store.apply(event);
}

/** The idempotency-key scope of retry claims: '#' is in no task name, so no submitter's key can collide. */
const RETRY_CLAIM_SCOPE = '#retry';
/** How long a claim keeps other keepers from starting the same run (a keeper that died mid-retry frees it then). */
const RETRY_CLAIM_HOLD_MS = 60_000;

/**
 * Claims the next run of `record` in the store, atomically across keepers (an idempotency key per task
 * and run): of two keepers retrying one task at once, one starts run n + 1 and the other is refused
 * (conflict), where both would have published it. `release` frees the claim when the retry fails.
 */
async function claimRun(store: ResultStore, record: TaskRecord): Promise<{ release(): Promise<void> }> {
  const now = Date.now();
  const key = `${record.id}:${record.run + 1}`;
  const token = `${record.id}#${randomUUID()}`;
  const owner = await store.scheduling.claimIdempotencyKey({
    name: RETRY_CLAIM_SCOPE, key, id: token, claimedAt: now, expiresAt: now + RETRY_CLAIM_HOLD_MS, abandonedBefore: now - RETRY_CLAIM_HOLD_MS,
  });
  if (owner.id !== token) throw new KeeperRequestError('conflict', `task ${record.id} is being retried already (run ${record.run + 1})`);
  return {
    release: async () => {
      await store.scheduling.releaseIdempotencyKey({ name: RETRY_CLAIM_SCOPE, key, id: token }).catch(() => false);
    },
  };
}

/**
 * The new run's message: what the record says, with the payload and trace context of the dead message
 * if there is one. With several keepers the record can be dead before the keeper that got the task's
 * queued event has stored its payload; the dead-letter copy carries it, and without one the retry is
 * refused (conflict) rather than run with no payload.
 */
function retryInput(record: TaskRecord, deadMessage: AMQPMessage | undefined): TaskMessageInput {
  const payloadJson = deadMessage?.bodyString() ?? (record.payload === undefined ? undefined : JSON.stringify(record.payload));
  if (payloadJson === undefined) {
    throw new KeeperRequestError('conflict', `task ${record.id}'s submission is not recorded yet; retry it again in a moment`);
  }
  const input: TaskMessageInput = {
    id: record.id,
    name: record.name,
    payloadJson,
    options: record.options,
    run: record.run + 1,
    attempt: 1,
    enqueuedAt: record.createdAt,
  };
  const headers = deadMessage?.properties.headers ?? {};
  const traceparent = headers[TaskHeader.traceparent];
  const tracestate = headers[TaskHeader.tracestate];
  if (typeof traceparent === 'string') input.traceparent = traceparent;
  if (typeof tracestate === 'string') input.tracestate = tracestate;
  return input;
}

/**
 * Gets messages from the task name's dead-letter queue until task `id`'s turns up (bounded), requeues
 * the others, and returns the match unacknowledged (or undefined when it is not there).
 */
async function takeDeadLetter(channel: AMQPChannel, taskName: string, id: string): Promise<AMQPMessage | undefined> {
  const others: AMQPMessage[] = [];
  try {
    for (let scanned = 0; scanned < DEAD_LETTER_SCAN_MAX; scanned++) {
      const message = await channel.basicGet(deadLetterQueueName(taskName), { noAck: false });
      if (message === null) return undefined;
      if (message.properties.messageId === id || message.properties.headers?.[TaskHeader.id] === id) return message;
      others.push(message);
    }
    return undefined;
  } finally {
    await Promise.all(others.map((message) => message.nack(true)));
  }
}
