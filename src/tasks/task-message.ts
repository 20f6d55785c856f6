/**
 * Builds what submitters publish (docs/task-protocol.md): the task message with its properties and
 * headers, and the 'queued' event of a run. The client and the keeper's manual retry share it.
 */
import type { AMQPProperties, Field } from '@cloudamqp/amqp-client';
import {
  DEFAULT_TASK_OPTIONS,
  TASK_CONTENT_TYPE,
  TASK_PROTOCOL_VERSION,
  TaskHeader,
  type TaskEvent,
  type TaskOptions,
} from './protocol.js';
import { isDefaultOptions } from './options-json.js';

/** What an absent header stands for, where the protocol gives a default (x-task-protocol absent is version 1). */
const ABSENT = DEFAULT_TASK_OPTIONS;

/** Everything a task message carries. */
export interface TaskMessageInput {
  id: string;
  name: string;
  /** The payload's JSON text: the whole body of the task message. */
  payloadJson: string;
  options: TaskOptions;
  run: number;
  attempt: number;
  /** When the task was first submitted, ms since the epoch. */
  enqueuedAt: number;
  /** The submitter's reply queue, when it waits for the reply. */
  replyTo?: string;
  /** The reply's correlation_id when the submitter chose one (default: the task id). */
  replyCorrelationId?: string;
  traceparent?: string;
  tracestate?: string;
}

/** A message ready for basic.publish. */
export interface OutgoingMessage {
  body: string;
  properties: AMQPProperties;
}

/**
 * The task message. Counters go out as signed 32-bit integers ('I') and milliseconds as signed 64-bit
 * ones ('l', a bigint here), so values past 2^31 keep their meaning in every client. A header whose
 * value is the one its absence stands for (docs/task-protocol.md) is left out: every hop (the broker's
 * two queues and their files, the worker, the keeper) then moves and parses fewer bytes, and most
 * tasks use the defaults. For the same reason the message leaves out the properties that would only
 * repeat its headers (message_id, correlation_id, type, timestamp: the task id twice, the name and
 * the submission time): amqp-client encodes each short string at the submitter and decodes it into a
 * string of its own at every worker delivery, and the three ids alone cost the benchmark's clients
 * about 1.5-2 us of CPU per task (docs/benchmarks.md, thirteenth round).
 */
export function taskMessage(input: TaskMessageInput): OutgoingMessage {
  const { options } = input;
  const { backoff } = options;
  const headers: Record<string, Field> = {
    [TaskHeader.id]: input.id,
    [TaskHeader.name]: input.name,
    [TaskHeader.enqueuedAt]: BigInt(input.enqueuedAt),
  };
  // A first attempt of a task of one attempt (the defaults) carries neither: each header field costs
  // amqp-client some 0.3 us to encode at the submitter and decode at the worker.
  if (input.attempt !== 1) headers[TaskHeader.attempt] = input.attempt;
  if (options.attempts !== ABSENT.attempts) headers[TaskHeader.maxAttempts] = options.attempts;
  if (options.timeoutMs !== ABSENT.timeoutMs) headers[TaskHeader.timeoutMs] = BigInt(options.timeoutMs);
  if (backoff.kind !== ABSENT.backoff.kind) headers[TaskHeader.backoff] = backoff.kind;
  if (backoff.delayMs !== ABSENT.backoff.delayMs) headers[TaskHeader.backoffDelayMs] = BigInt(backoff.delayMs);
  if (backoff.jitter !== ABSENT.backoff.jitter) headers[TaskHeader.backoffJitter] = backoff.jitter;
  if (input.run !== 1) headers[TaskHeader.run] = input.run;
  if (options.delayMs > 0) headers[TaskHeader.delayMs] = BigInt(options.delayMs);
  if (options.callbackUrl !== undefined) headers[TaskHeader.callbackUrl] = options.callbackUrl;
  if (input.traceparent !== undefined) headers[TaskHeader.traceparent] = input.traceparent;
  if (input.tracestate !== undefined) headers[TaskHeader.tracestate] = input.tracestate;
  if (input.replyCorrelationId !== undefined) headers[TaskHeader.replyCorrelationId] = input.replyCorrelationId;
  const properties: AMQPProperties = { contentType: TASK_CONTENT_TYPE, deliveryMode: 2, headers };
  // Priority 0 is the property's absence; amqp-client leaves a 0 out anyway.
  if (options.priority > 0) properties.priority = options.priority;
  if (input.replyTo !== undefined) properties.replyTo = input.replyTo;
  return { body: input.payloadJson, properties };
}

/** The 'queued' event that opens a run (run 1 at submit, run n + 1 at a manual retry). */
export function queuedEvent(input: Omit<TaskMessageInput, 'attempt' | 'replyTo'>, at: number): TaskEvent {
  return {
    protocol: TASK_PROTOCOL_VERSION,
    kind: 'queued',
    id: input.id,
    name: input.name,
    run: input.run,
    attempt: 1,
    at,
    payload: JSON.parse(input.payloadJson) as unknown,
    options: input.options,
    enqueuedAt: input.enqueuedAt,
  };
}

/**
 * The JSON text of the 'queued' event of `input`'s first run, queued at its enqueuedAt: what
 * JSON.stringify(queuedEvent(input, input.enqueuedAt)) gives, with the payload's JSON text put in as it
 * is instead of being parsed and encoded again, and without `options` when they are the defaults
 * (docs/task-protocol.md, section 3): they were a third of a typical event's text, and parsing them
 * nearly half of what the keeper spends parsing the event.
 */
export function queuedEventJson(input: Omit<TaskMessageInput, 'attempt' | 'replyTo'>): string {
  const at = input.enqueuedAt;
  const options = isDefaultOptions(input.options) ? '' : `,"options":${JSON.stringify(input.options)}`;
  return (
    `{"protocol":${TASK_PROTOCOL_VERSION},"kind":"queued","id":${JSON.stringify(input.id)},"name":${JSON.stringify(input.name)},` +
    `"run":${input.run},"attempt":1,"at":${at},"payload":${input.payloadJson}${options},"enqueuedAt":${at}}`
  );
}

/** A JSON message for the events exchange, a reply queue or the keeper (persistent unless said otherwise). */
export function jsonMessage(value: unknown, properties: AMQPProperties = {}): OutgoingMessage {
  return { body: JSON.stringify(value), properties: { contentType: TASK_CONTENT_TYPE, deliveryMode: 2, ...properties } };
}

/** The JSON value of a message body; throws a SyntaxError on anything else. */
export function parseJsonBody(body: Uint8Array | null): unknown {
  if (body === null || body.length === 0) throw new SyntaxError('empty message body');
  return JSON.parse(utf8Text(body)) as unknown;
}

/** Decodes UTF-8 as Buffer.toString does: a byte-order mark is kept, bad bytes become U+FFFD. */
const UTF8_DECODER = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * The text of UTF-8 `bytes`, decoded in place: a Buffer over them (Buffer.from(arrayBuffer, ...)) and
 * its toString took 104-112 ns for a small body, TextDecoder 42-43 ns, with no object made but the
 * string (and no slower for a 23 KB batch of events).
 */
export function utf8Text(bytes: Uint8Array): string {
  return UTF8_DECODER.decode(bytes);
}

/**
 * The UTF-8 bytes of a message body. amqp-client encodes a string body with TextEncoder, which makes a
 * fresh ArrayBuffer each time; Buffer.from takes small bodies from Node's shared buffer pool, at a
 * fraction of the cost, and amqp-client copies a Buffer body into its frame as it is.
 */
export function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}
