/**
 * A task worker written for tests with amqplib and docs/task-protocol.md only (no code from src/tasks
 * beyond names), so the tests check that the SDK and the keeper interoperate with any worker that
 * follows the document: 'started' event, outcome event, reply to reply_to, dead-letter copy with
 * x-task-error, acknowledgement after the broker confirmed all of it.
 */
import { connect, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import {
  TASK_EVENTS_EXCHANGE,
  TASK_QUEUE_ARGUMENTS,
  deadLetterQueueName,
  taskQueueName,
  type TaskError,
} from '../../src/tasks/protocol.js';

/** What the fake worker does with a task: return a result, fail it (not retryable), or dead-letter it. */
export type FakeOutcome = { succeed: unknown } | { fail: TaskError } | { dead: TaskError };

/** A task message as the fake worker saw it. */
export interface SeenTask {
  id: string;
  payload: unknown;
  headers: Record<string, unknown>;
  properties: ConsumeMessage['properties'];
}

/** A running fake worker. */
export interface FakeWorker {
  /** Tasks handled so far, in order. */
  readonly seen: SeenTask[];
  /** How many tasks were acknowledged (their outcome confirmed by the broker). */
  readonly acked: () => number;
  close(): Promise<void>;
}

/** Consumes `taskName`'s work queue on `url` and settles every task as `decide` says. */
export async function startFakeWorker(
  url: string,
  taskName: string,
  decide: (task: SeenTask) => FakeOutcome,
): Promise<FakeWorker> {
  const model: ChannelModel = await connect(url);
  const channel = await model.createConfirmChannel();
  await channel.assertExchange(TASK_EVENTS_EXCHANGE, 'topic', { durable: true });
  await channel.assertQueue(taskQueueName(taskName), { durable: true, arguments: { ...TASK_QUEUE_ARGUMENTS } });
  await channel.assertQueue(deadLetterQueueName(taskName), { durable: true });
  await channel.prefetch(1);
  const seen: SeenTask[] = [];
  let acked = 0;
  await channel.consume(taskQueueName(taskName), (message) => {
    if (message === null) return;
    const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
    const task: SeenTask = {
      id: String(headers['x-task-id']),
      payload: JSON.parse(message.content.toString()) as unknown,
      headers,
      properties: message.properties,
    };
    seen.push(task);
    void settle(channel, taskName, message, task, decide(task)).then((done) => {
      if (done) acked += 1;
    });
  });
  return {
    seen,
    acked: () => acked,
    close: async () => {
      await model.close().catch(() => {}); // already closed when the broker stopped first
    },
  };
}

/** Publishes what the outcome calls for, then acks; false when the connection went away first. */
async function settle(channel: ConfirmChannel, taskName: string, message: ConsumeMessage, task: SeenTask, outcome: FakeOutcome): Promise<boolean> {
  const attempt = Number(task.headers['x-task-attempt'] ?? 1);
  const run = Number(task.headers['x-task-run'] ?? 1);
  const event = (kind: string, extra: object): void => {
    const body = { protocol: 1, kind, id: task.id, name: taskName, run, attempt, at: Date.now(), ...extra };
    channel.publish(TASK_EVENTS_EXCHANGE, `${kind}.${taskName}`, Buffer.from(JSON.stringify(body)), {
      contentType: 'application/json',
      deliveryMode: 2,
    });
  };
  const reply = (extra: object): void => {
    const replyTo = message.properties.replyTo as string | undefined;
    if (replyTo === undefined || replyTo === '') return;
    const body = { protocol: 1, id: task.id, name: taskName, attempt, ...extra };
    channel.sendToQueue(replyTo, Buffer.from(JSON.stringify(body)), { contentType: 'application/json', correlationId: task.id });
  };
  event('started', { worker: 'fake-worker' });
  if ('succeed' in outcome) {
    event('succeeded', { result: outcome.succeed });
    reply({ state: 'succeeded', result: outcome.succeed });
  } else if ('fail' in outcome) {
    event('failed', { error: outcome.fail });
    reply({ state: 'failed', error: outcome.fail });
  } else {
    channel.sendToQueue(deadLetterQueueName(taskName), message.content, {
      ...message.properties,
      headers: { ...task.headers, 'x-task-error': JSON.stringify(outcome.dead) },
      deliveryMode: 2,
    });
    event('dead', { error: outcome.dead });
    reply({ state: 'dead', error: outcome.dead });
  }
  try {
    await channel.waitForConfirms();
    channel.ack(message);
    return true;
  } catch {
    // The connection closed under the test; the broker redelivers the task.
    return false;
  }
}
