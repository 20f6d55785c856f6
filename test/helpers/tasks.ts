/**
 * Shared pieces of the task layer's integration tests: a broker without its in-process keeper (the
 * tests run their own), unique task names, a queue of the test's own that collects what reaches it,
 * and a reader of the AMQP type tags a content header's headers table carries on the wire.
 */
import type { TestContext } from 'node:test';
import amqplib, { type ConsumeMessage } from 'amqplib';
import { KEEPER_QUEUE, KEEPER_REQUESTS_QUEUE, type TaskEvent } from '../../src/tasks/protocol.js';
import { startTestBroker, type TestBroker } from './broker.js';

let counter = 0;

/** A task name no other test uses. */
export function uniqueTaskName(prefix: string): string {
  counter += 1;
  return `test.${prefix}.${process.pid}.${counter}`;
}

/** Starts an in-process Warren with no keeper of its own, stopped when `t` ends. */
export async function startTasksBroker(t: TestContext): Promise<TestBroker> {
  const broker = await startTestBroker({ tasks: { keeperEnabled: false } });
  t.after(() => broker.close());
  if (broker.external) await purgeSharedKeeperQueues(broker.url);
  return broker;
}

/**
 * An external broker (WARREN_TEST_URL, e.g. RabbitMQ) keeps the keeper queues between tests and runs:
 * events and requests left there by an earlier test would reach this test's keeper, so they go first.
 */
async function purgeSharedKeeperQueues(url: string): Promise<void> {
  const connection = await amqplib.connect(url);
  try {
    const channel = await connection.createChannel();
    for (const queue of [KEEPER_QUEUE, KEEPER_REQUESTS_QUEUE]) {
      await channel.assertQueue(queue, { durable: true });
      await channel.purgeQueue(queue);
    }
  } finally {
    await connection.close();
  }
}

/** The AMQP field type tag ('S', 'I', 'l', 't'...) of each header in a basic content header frame payload. */
export function headerFieldTypes(payload: Buffer): Record<string, string> {
  const flags = payload.readUInt16BE(12);
  let offset = 14;
  if ((flags & 0x8000) !== 0) offset += 1 + payload.readUInt8(offset); // content-type
  if ((flags & 0x4000) !== 0) offset += 1 + payload.readUInt8(offset); // content-encoding
  if ((flags & 0x2000) === 0) return {};
  const end = offset + 4 + payload.readUInt32BE(offset);
  offset += 4;
  const types: Record<string, string> = {};
  while (offset < end) {
    const keyLength = payload.readUInt8(offset);
    const key = payload.toString('utf8', offset + 1, offset + 1 + keyLength);
    offset += 1 + keyLength;
    const tag = String.fromCharCode(payload.readUInt8(offset));
    offset += 1;
    types[key] = tag;
    offset += fieldValueLength(payload, offset, tag);
  }
  return types;
}

function fieldValueLength(payload: Buffer, offset: number, tag: string): number {
  switch (tag) {
    case 't':
    case 'b':
    case 'B':
      return 1;
    case 's':
    case 'u':
      return 2;
    case 'I':
    case 'i':
    case 'f':
      return 4;
    case 'D':
      return 5;
    case 'l':
    case 'd':
    case 'T':
      return 8;
    case 'V':
      return 0;
    case 'S':
    case 'x':
    case 'F':
    case 'A':
      return 4 + payload.readUInt32BE(offset);
    default:
      throw new Error(`unknown field type ${tag}`);
  }
}

/** A server-named exclusive queue of the test's own on the broker at `url`, collecting what reaches it. */
export async function collectingQueue(url: string): Promise<{ queue: string; received: ConsumeMessage[]; close(): Promise<void> }> {
  const connection = await amqplib.connect(url);
  const channel = await connection.createChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const received: ConsumeMessage[] = [];
  await channel.consume(queue, (message) => {
    if (message !== null) received.push(message);
  }, { noAck: true });
  return { queue, received, close: () => connection.close() };
}

/** One attempt's start as a task's history shows it. */
export interface AttemptStart {
  attempt: number;
  /** When the handler started, ms since the epoch. */
  at: number;
  worker: string | undefined;
}

/**
 * Every start of an attempt of run `run` in a task's history, oldest first: a 'started' event, or the
 * start an outcome carries (a worker sends 'started' only for handlers that run a while). One entry per
 * attempt and worker, so a task redelivered to a second worker shows both starts.
 */
export function attemptStarts(events: readonly TaskEvent[], run = 1): AttemptStart[] {
  const starts = new Map<string, AttemptStart>();
  for (const event of events) {
    if (event.run !== run || event.kind === 'queued') continue;
    const at = event.kind === 'started' ? event.at : event.startedAt;
    if (at === undefined) continue;
    const key = `${event.attempt}:${event.worker ?? ''}:${at}`;
    if (!starts.has(key)) starts.set(key, { attempt: event.attempt, at, worker: event.worker });
  }
  return [...starts.values()].sort((a, b) => a.at - b.at || a.attempt - b.attempt);
}
