/**
 * The keeper's reading of a task message that reached its queue by BCC (docs/task-protocol.md, section 2):
 * such a message stands for its run's 'queued' event, so a submitter may publish once instead of twice. Every
 * option is in the message: the x-task-* headers, the priority property, and the JSON body as payload.
 */
import type { AMQPMessage } from '@cloudamqp/amqp-client';
import { TASK_PROTOCOL_VERSION, TaskHeader, isValidTaskName, type TaskEvent, type TaskOptions } from './protocol.js';
import { MalformedTaskError } from './worker-errors.js';
import { optionalInteger, readTaskHeaders, readTaskPayload } from './worker-message.js';

/** True when a message on the keeper queue is a task message (it carries a task id header), not an event. */
export function isTaskMessage(message: AMQPMessage): boolean {
  return message.properties.headers?.[TaskHeader.id] !== undefined;
}

/** The 'queued' event a task message stands for; throws MalformedTaskError when it does not follow the protocol. */
export function queuedEventOf(message: AMQPMessage): TaskEvent {
  const headers = message.properties.headers ?? {};
  const name = headers[TaskHeader.name];
  if (typeof name !== 'string' || !isValidTaskName(name)) throw new MalformedTaskError(`header ${TaskHeader.name} is not a task name`);
  const task = readTaskHeaders(message, name);
  const options: TaskOptions = {
    attempts: task.maxAttempts,
    backoff: task.backoff,
    timeoutMs: task.timeoutMs,
    priority: message.properties.priority ?? 0,
    delayMs: optionalInteger(headers, TaskHeader.delayMs, 0, 0),
  };
  const callbackUrl = headers[TaskHeader.callbackUrl];
  if (typeof callbackUrl === 'string') options.callbackUrl = callbackUrl;
  return {
    protocol: TASK_PROTOCOL_VERSION,
    kind: 'queued',
    id: task.id,
    name,
    run: task.run,
    attempt: 1,
    at: task.enqueuedAt,
    payload: readTaskPayload(message) ?? null,
    options,
    enqueuedAt: task.enqueuedAt,
  };
}
