/**
 * JSON Schemas of the task gateway's requests and answers. Fastify validates requests with them and the
 * OpenAPI document (task-openapi.ts) publishes them, so the two cannot drift apart.
 */
import { TASK_DELAY_MAX_MS, TASK_PRIORITY_MAX } from '../tasks/protocol.js';
/** Most records one listing returns. */
export const LIST_LIMIT_MAX = 1000;
/** Records a listing returns when no limit is given. */
export const LIST_LIMIT_DEFAULT = 100;

const durationMs = { type: 'integer', minimum: 0, maximum: TASK_DELAY_MAX_MS } as const;

/** The task states, in lifecycle order. */
export const TASK_STATES = ['queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled'] as const;

/** Retry backoff of a submitted task; every field is optional. */
export const backoffSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    kind: { type: 'string', enum: ['fixed', 'exponential'], description: 'How the delay grows between retries.' },
    delayMs: { ...durationMs, description: 'Delay before the first retry (and every retry, with fixed).' },
    jitter: { type: 'boolean', description: 'Randomise exponential delays between 0 and the computed delay.' },
  },
} as const;

/** Options of a submitted task; every field is optional. */
export const submitOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    attempts: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Attempts in all, first included (default 1).' },
    timeoutMs: { ...durationMs, description: 'Milliseconds one attempt may run; 0 (default) for no limit.' },
    delayMs: { ...durationMs, description: 'Milliseconds to wait before the first attempt (default 0).' },
    priority: { type: 'integer', minimum: 0, maximum: TASK_PRIORITY_MAX, description: `0 (default) to ${TASK_PRIORITY_MAX}; higher runs first.` },
    backoff: backoffSchema,
    replyTo: { type: 'string', minLength: 1, maxLength: 255, description: 'A queue to publish the result to as well (an AMQP reply; routing key on the default exchange).' },
    correlationId: { type: 'string', minLength: 1, maxLength: 255, description: 'The correlation_id of that reply (default: the task id).' },
    runAt: {
      anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', minLength: 1, maxLength: 64 }],
      description: 'Run at this time instead of after delayMs (not both): ms since the epoch, or an ISO 8601 string. A past time runs at once.',
    },
    callbackUrl: { type: 'string', minLength: 1, maxLength: 2048, description: 'An http(s) URL the task is POSTed to once finished, signed per Standard Webhooks (docs/webhooks.md).' },
  },
} as const;

/** Query of GET /api/tasks/webhooks/secret. */
export const webhookSecretQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', minLength: 1, maxLength: 2048, description: 'A callback URL; its endpoint (scheme, host, port, path) has one secret.' },
  },
} as const;

/** One POST of a webhook delivery. */
export const webhookAttemptSchema = {
  type: 'object',
  required: ['at', 'durationMs'],
  properties: {
    at: { type: 'string', format: 'date-time', description: 'When the attempt started.' },
    durationMs: { type: 'integer', description: 'How long until the answer or the error.' },
    status: { type: 'integer', description: 'The receiver\'s HTTP status, when it answered.' },
    error: { type: 'string', description: 'Why there was no answer (timeout, connection refused...).' },
  },
} as const;

/** The webhook of a finished task submitted with a callbackUrl. */
export const webhookStatusSchema = {
  type: 'object',
  required: ['url', 'run', 'id', 'type', 'state', 'attempts'],
  properties: {
    url: { type: 'string' },
    run: { type: 'integer', description: 'The run whose end it reports.' },
    id: { type: 'string', description: 'The webhook-id header, the same for every attempt.' },
    type: { type: 'string', description: 'The payload type, task.<state>.' },
    state: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
    attempts: { type: 'array', items: webhookAttemptSchema },
    nextAttemptAt: { type: 'string', format: 'date-time', description: 'When the next attempt is due, while pending.' },
  },
} as const;

/** Body of POST /api/tasks/{name}. */
export const submitBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    payload: { description: 'Any JSON value, passed to the handler as is (default null).' },
    options: submitOptionsSchema,
  },
} as const;

/** Query string of GET /api/tasks (values arrive as strings and are checked as such). */
export const listQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', description: 'Only tasks of this name.' },
    state: { type: 'string', enum: TASK_STATES, description: 'Only tasks in this state.' },
    limit: { type: 'string', pattern: '^[0-9]{1,9}$', description: `Most tasks returned, 1 to ${LIST_LIMIT_MAX} (default ${LIST_LIMIT_DEFAULT}).` },
    offset: { type: 'string', pattern: '^[0-9]{1,9}$', description: 'Tasks to skip (default 0).' },
  },
} as const;

/** Longest a GET of one task may wait for it to finish (?wait=), in seconds. */
export const TASK_WAIT_MAX_SECONDS = 60;

/** Query of GET /api/tasks/{id}: an optional long-poll. */
export const getTaskQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    wait: { type: 'string', pattern: '^[0-9]{1,3}$', description: `Seconds (0 to ${TASK_WAIT_MAX_SECONDS}) to wait for the task to finish before answering.` },
  },
} as const;

/** An error of a failed attempt. */
export const taskErrorSchema = {
  type: 'object',
  required: ['name', 'message', 'retryable'],
  properties: {
    name: { type: 'string' },
    message: { type: 'string' },
    retryable: { type: 'boolean', description: 'False when the handler said the task must not be retried.' },
    stack: { type: 'string' },
  },
} as const;

const timestamp = { type: 'string', format: 'date-time' } as const;

/** A task as GET /api/tasks/{id} reports it (see task-view.ts). */
export const taskSchema = {
  type: 'object',
  required: ['id', 'name', 'state', 'run', 'attempts', 'maxAttempts', 'options', 'payload', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    state: { type: 'string', enum: TASK_STATES },
    run: { type: 'integer', description: 'Manual-retry generation, 1 for the first run.' },
    attempts: { type: 'integer', description: 'Attempts started in the current run.' },
    maxAttempts: { type: 'integer' },
    options: { type: 'object', description: 'The options in effect, defaults filled in.' },
    payload: { description: 'What was submitted.' },
    createdAt: { ...timestamp, description: 'When the task was submitted.' },
    startedAt: { ...timestamp, description: 'When the latest attempt started.' },
    finishedAt: { ...timestamp, description: 'When the task reached a terminal state.' },
    updatedAt: { ...timestamp, description: 'When the record last changed.' },
    retryAt: { ...timestamp, description: 'When the next attempt is due, while waiting for a retry.' },
    result: { description: 'The handler\'s return value, once succeeded.' },
    error: { ...taskErrorSchema, description: 'The last attempt\'s error (failed, dead, or waiting for a retry).' },
    webhook: { ...webhookStatusSchema, description: 'The webhook to options.callbackUrl, once the task finished.' },
    progress: { description: 'The latest progress the handler reported (ctx.progress): a number from 0 to 100 or a JSON object.' },
    progressAt: { ...timestamp, description: 'When that progress was reported.' },
  },
} as const;

/** Body of a 202 answer (submit, retry). */
export const acceptedSchema = {
  type: 'object',
  required: ['id', 'state'],
  properties: { id: { type: 'string' }, state: { type: 'string', const: 'queued' } },
} as const;

/** Body of every error answer. */
export const errorSchema = {
  type: 'object',
  required: ['error', 'reason'],
  properties: {
    error: { type: 'string', description: 'A short snake_case code such as bad_request or not_found.' },
    reason: { type: 'string' },
  },
} as const;
