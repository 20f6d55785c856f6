/**
 * Declares the queues and exchanges of the task protocol. Every participant (client, worker, keeper)
 * declares what it uses, idempotently, so none depends on another having started first: events
 * published before any keeper ran wait in the keeper queue.
 */
import type { AMQPChannel } from '@cloudamqp/amqp-client';
import {
  KEEPER_QUEUE,
  KEEPER_REQUESTS_QUEUE,
  TASK_EVENTS_EXCHANGE,
  TASK_QUEUE_ARGUMENTS,
  deadLetterQueueName,
  taskQueueName,
  waitQueueArguments,
  waitQueueName,
} from './protocol.js';

/** Declares the events exchange and the keeper queue bound to every event. */
export async function declareEventTopology(channel: AMQPChannel): Promise<void> {
  await channel.exchangeDeclare(TASK_EVENTS_EXCHANGE, 'topic', { durable: true });
  await channel.queueDeclare(KEEPER_QUEUE, { durable: true });
  await channel.queueBind(KEEPER_QUEUE, TASK_EVENTS_EXCHANGE, '#');
}

/** Declares the durable queue keepers take requests from (clients declare it too, so no request is unroutable). */
export async function declareKeeperRequestsQueue(channel: AMQPChannel): Promise<void> {
  await channel.queueDeclare(KEEPER_REQUESTS_QUEUE, { durable: true });
}

/** Declares a task name's work queue and dead-letter queue. */
export async function declareTaskTopology(channel: AMQPChannel, taskName: string): Promise<void> {
  await channel.queueDeclare(taskQueueName(taskName), { durable: true }, { ...TASK_QUEUE_ARGUMENTS });
  await channel.queueDeclare(deadLetterQueueName(taskName), { durable: true });
}

/**
 * Declares the wait queue holding a task name's messages for `delayMs` (already rounded with
 * waitQueueDelayMs) and returns its name.
 */
export async function declareWaitQueue(channel: AMQPChannel, taskName: string, delayMs: number): Promise<string> {
  const name = waitQueueName(taskName, delayMs);
  await channel.queueDeclare(name, { durable: true }, waitQueueArguments(taskName, delayMs));
  return name;
}
