/**
 * Helpers for the consumer and queue feature tests (priorities, single active consumer, consumer
 * priorities, direct reply-to, delivery limits, acknowledgement timeouts): publishing a list of
 * messages and waiting for the confirms, compact views of what a consumer received, amqplib's channel
 * number, and a short pause that only ever proves an absence.
 */
import assert from 'node:assert/strict';
import type { Channel, ConfirmChannel, GetMessage, Options } from 'amqplib';
import { waitFor, withTimeout, type CloseInfo } from './amqp.js';

/** One message for sendAll(): a body, or a body with publish options. */
export type Outgoing = string | { body: string; options?: Options.Publish };

/** Publishes `messages` to `queue` through the default exchange and waits for their confirms. */
export async function sendAll(pub: ConfirmChannel, queue: string, messages: readonly Outgoing[]): Promise<void> {
  for (const message of messages) {
    const { body, options } = typeof message === 'string' ? { body: message, options: undefined } : message;
    pub.sendToQueue(queue, Buffer.from(body), options ?? {});
  }
  await withTimeout(pub.waitForConfirms(), 3000, `confirms for ${messages.length} messages to ${queue}`);
}

/** Publishes "<prefix>0".."<prefix>(count-1)" to `queue` and waits for the confirms. */
export async function sendNumbered(pub: ConfirmChannel, queue: string, count: number, prefix = 'm'): Promise<void> {
  await sendAll(pub, queue, Array.from({ length: count }, (_, i) => `${prefix}${i}`));
}

/** Bodies in delivery order, each redelivered one marked with a trailing '*' (e.g. ['m0*', 'm1']). */
export function marked(messages: readonly { content: Buffer; fields: { redelivered: boolean } }[]): string[] {
  return messages.map((message) => `${message.content.toString()}${message.fields.redelivered ? '*' : ''}`);
}

/**
 * Gives the broker time to push deliveries it must not push. Used only to prove an absence ("the
 * waiting consumer got nothing"), never to wait for something that should happen.
 */
export function settle(ms = 150): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `queue` with basic.get (no-ack) until a message is there, for messages that arrive
 * asynchronously (requeued by a closing channel, dead-lettered); fails after `timeoutMs`.
 */
export async function nextMessage(ch: Channel, queue: string, timeoutMs = 3000): Promise<GetMessage> {
  let found: GetMessage | false = false;
  await waitFor(async () => (found = await ch.get(queue, { noAck: true })) !== false, timeoutMs, `a message on ${queue}`);
  assert.ok(found !== false);
  return found;
}

/** The channel number amqplib gave `ch` (RabbitMQ names it in some reply texts). */
export function channelNumber(ch: Channel): number {
  const number = (ch as unknown as { ch?: unknown }).ch;
  assert.ok(typeof number === 'number', 'amqplib channel number');
  return number;
}

/** Checks a server close exactly: reply code, full reply text and class/method ids. */
export function assertExactClose(
  actual: CloseInfo | undefined,
  expected: { replyCode: number; replyText: string; classId: number; methodId: number },
): void {
  assert.ok(actual, 'expected the server to close the channel');
  assert.deepEqual(
    { replyCode: actual.replyCode, replyText: actual.replyText, classId: actual.classId, methodId: actual.methodId },
    expected,
  );
}
