/**
 * JSON Schemas of the schedule routes (schedule-routes.ts) and of an idempotent submit's replay, shared
 * by fastify's validation and the OpenAPI document (task-openapi.ts).
 */
import { TASK_STATES, backoffSchema } from './task-schemas.js';
import { TASK_DELAY_MAX_MS, TASK_PRIORITY_MAX } from '../tasks/protocol.js';
import { CRON_EXPRESSION_MAX_LENGTH } from '../tasks/cron.js';
import { IDEMPOTENCY_KEY_MAX_LENGTH } from '../tasks/idempotency.js';

const durationMs = { type: 'integer', minimum: 0, maximum: TASK_DELAY_MAX_MS } as const;
const timestamp = { type: 'string', format: 'date-time' } as const;

/** Task options a schedule's tasks may carry (no delays, reply routing or idempotency). */
export const scheduleTaskOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    attempts: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Attempts in all, first included (default 1).' },
    timeoutMs: { ...durationMs, description: 'Milliseconds one attempt may run; 0 (default) for no limit.' },
    priority: { type: 'integer', minimum: 0, maximum: TASK_PRIORITY_MAX, description: `0 (default) to ${TASK_PRIORITY_MAX}; higher runs first.` },
    backoff: backoffSchema,
  },
} as const;

/** Body of PUT /api/tasks/schedules/{id}. */
export const putScheduleBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'cron'],
  properties: {
    name: { type: 'string', description: 'The task name each slot submits.' },
    cron: { type: 'string', maxLength: CRON_EXPRESSION_MAX_LENGTH, description: 'Five fields: minute hour day-of-month month day-of-week, e.g. "*/5 * * * *".' },
    tz: { type: 'string', description: 'IANA time zone the expression is read in (default UTC), e.g. "Europe/Berlin".' },
    payload: { description: 'Any JSON value, passed to each task (default null).' },
    options: scheduleTaskOptionsSchema,
  },
} as const;

/** A schedule as the routes report it. */
export const scheduleSchema = {
  type: 'object',
  required: ['id', 'name', 'cron', 'tz', 'payload', 'options', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    cron: { type: 'string' },
    tz: { type: 'string' },
    payload: {},
    options: { type: 'object', description: 'The options of each task, defaults filled in.' },
    createdAt: timestamp,
    updatedAt: { ...timestamp, description: 'When the definition last changed; slots before it never fire.' },
    nextRunAt: { ...timestamp, description: 'The next slot after now.' },
  },
} as const;

/** Body of a 200 answer to a submit whose Idempotency-Key was used before. */
export const replayedSchema = {
  type: 'object',
  required: ['id', 'state', 'replayed'],
  properties: {
    id: { type: 'string', description: 'The id of the task the key was first used for.' },
    state: { type: 'string', enum: TASK_STATES, description: 'That task\'s state now.' },
    replayed: { type: 'boolean', const: true },
  },
} as const;

/** The Idempotency-Key header parameter of POST /api/tasks/{name}. */
export const idempotencyKeyParameter = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'Submitting again with the same key (per task name, within the keeper\'s window, 24 h by default) returns the existing task (200, Idempotent-Replayed: true) instead of a new one.',
  schema: { type: 'string', minLength: 1, maxLength: IDEMPOTENCY_KEY_MAX_LENGTH },
} as const;
