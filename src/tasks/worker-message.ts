/**
 * Reads a delivered task message as the protocol defines it: the x-task-* headers, checked, and the JSON
 * payload. Anything that does not follow the protocol becomes a MalformedTaskError, never a crash.
 */
import type { AMQPMessage, AMQPProperties, Field } from '@cloudamqp/amqp-client';
import { DEFAULT_TASK_OPTIONS, TASK_CONTENT_TYPE, TASK_PROTOCOL_VERSION, TaskHeader, type Backoff } from './protocol.js';
import { MalformedTaskError } from './worker-errors.js';
import { utf8Text } from './task-message.js';

/** What a worker needs from a task message's headers. */
export interface TaskHeaders {
  id: string;
  name: string;
  /** 1-based number of this attempt. */
  attempt: number;
  maxAttempts: number;
  /** 0 for no limit. */
  timeoutMs: number;
  /** ms since the epoch. */
  enqueuedAt: number;
  run: number;
  backoff: Backoff;
}

/**
 * The task headers of a message consumed from `taskName`'s work queue. Required: x-task-id and x-task-name
 * (equal to `taskName`); the others take the protocol's defaults (x-task-attempt and x-task-max-attempts: 1).
 */
export function readTaskHeaders(message: AMQPMessage, taskName: string): TaskHeaders {
  const headers = message.properties.headers ?? {};
  const protocol = optionalInteger(headers, TaskHeader.protocol, TASK_PROTOCOL_VERSION, 0);
  if (protocol !== TASK_PROTOCOL_VERSION) throw new MalformedTaskError(`unsupported task protocol version ${protocol}`);
  const id = headers[TaskHeader.id];
  if (typeof id !== 'string' || id === '') throw new MalformedTaskError(`header ${TaskHeader.id} is missing or not a string`);
  const name = headers[TaskHeader.name];
  if (name !== taskName) throw new MalformedTaskError(`header ${TaskHeader.name} is ${JSON.stringify(name)}, expected ${JSON.stringify(taskName)}`);
  return {
    id,
    name: taskName,
    attempt: optionalInteger(headers, TaskHeader.attempt, 1, 1),
    maxAttempts: optionalInteger(headers, TaskHeader.maxAttempts, DEFAULT_TASK_OPTIONS.attempts, 1),
    timeoutMs: optionalInteger(headers, TaskHeader.timeoutMs, DEFAULT_TASK_OPTIONS.timeoutMs, 0),
    enqueuedAt: optionalInteger(headers, TaskHeader.enqueuedAt, message.properties.timestamp?.getTime() ?? Date.now(), 0),
    run: optionalInteger(headers, TaskHeader.run, 1, 1),
    backoff: readBackoff(headers),
  };
}

/** The JSON payload of a task message; an empty body is an undefined payload. */
export function readTaskPayload(message: AMQPMessage): unknown {
  const contentType = message.properties.contentType;
  if (contentType !== undefined && contentType !== '' && contentType !== TASK_CONTENT_TYPE) {
    throw new MalformedTaskError(`unsupported content type ${JSON.stringify(contentType)}`);
  }
  const { body: bytes } = message;
  if (bytes === null || bytes.length === 0) return undefined;
  // Decoded in place: bodyString() copies the bytes into a new Buffer first.
  const body = utf8Text(bytes);
  try {
    return JSON.parse(body) as unknown;
  } catch (error) {
    throw new MalformedTaskError(`body is not JSON: ${(error as Error).message}`);
  }
}

/**
 * Headers for a copy of a message: broker dead-lettering records (x-death...) dropped, `changes` applied.
 * Integers past 32 bits go back out as bigints: amqp-client would write 2^31..2^32 as a negative int32.
 */
export function copyHeaders(properties: AMQPProperties, changes: Record<string, Field>): Record<string, Field> {
  const headers: Record<string, Field> = {};
  for (const [key, value] of Object.entries(properties.headers ?? {})) {
    if (key === 'x-death' || key.startsWith('x-first-death-') || key.startsWith('x-last-death-')) continue;
    headers[key] = typeof value === 'number' && Number.isSafeInteger(value) && Math.abs(value) >= 2 ** 31 ? BigInt(value) : value;
  }
  return Object.assign(headers, changes);
}

function readBackoff(headers: Record<string, unknown>): Backoff {
  const defaults = DEFAULT_TASK_OPTIONS.backoff;
  const kind = headers[TaskHeader.backoff] ?? defaults.kind;
  if (kind !== 'fixed' && kind !== 'exponential') throw new MalformedTaskError(`header ${TaskHeader.backoff} must be 'fixed' or 'exponential'`);
  const jitter = headers[TaskHeader.backoffJitter] ?? defaults.jitter;
  if (typeof jitter !== 'boolean' && jitter !== 0 && jitter !== 1) throw new MalformedTaskError(`header ${TaskHeader.backoffJitter} must be a boolean`);
  return { kind, delayMs: optionalInteger(headers, TaskHeader.backoffDelayMs, defaults.delayMs, 0), jitter: Boolean(jitter) };
}

/** An integer header (AMQP clients send them as signed 8/16/32/64-bit ints, so a bigint is accepted too). */
export function optionalInteger(headers: Record<string, unknown>, header: string, fallback: number, minimum: number): number {
  const raw = headers[header];
  if (raw === undefined || raw === null) return fallback;
  const value = typeof raw === 'bigint' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
    throw new MalformedTaskError(`header ${header} must be an integer >= ${minimum}`);
  }
  return value;
}
