/**
 * The OpenAPI 3.1 document of the task gateway, served at GET /api/tasks/openapi.json. Request schemas
 * are the ones fastify validates with (task-schemas.ts).
 */
import {
  LIST_LIMIT_DEFAULT,
  LIST_LIMIT_MAX,
  TASK_STATES,
  TASK_WAIT_MAX_SECONDS,
  acceptedSchema,
  errorSchema,
  submitBodySchema,
  taskSchema,
} from './task-schemas.js';
import { idempotencyKeyParameter, replayedSchema, scheduleSchema } from './schedule-schemas.js';
import { schedulePaths } from './schedule-openapi.js';

const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const acceptedResponse = {
  description: 'Accepted: the task is queued. Poll the Location after Retry-After seconds.',
  headers: {
    Location: { description: 'Where the task\'s status is: /api/tasks/{id}.', schema: { type: 'string' } },
    'Retry-After': { description: 'Seconds to wait before polling.', schema: { type: 'integer' } },
  },
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Accepted' } } },
};

const replayedResponse = {
  description: 'The Idempotency-Key was used before for this task name: the existing task, not a new one.',
  headers: { 'Idempotent-Replayed': { description: 'Always "true" on a replay.', schema: { type: 'string', const: 'true' } } },
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Replayed' } } },
};

const idParameter = { name: 'id', in: 'path', required: true, description: 'The task id from the 202 answer.', schema: { type: 'string' } };

const common = {
  '401': error('No or wrong credentials (HTTP basic, a broker user).'),
  '403': error('The user has no access to the vhost "/", where tasks live.'),
  '503': error('The node runs no task keeper, or the task could not be handed to the broker.'),
};

/** The task gateway's OpenAPI 3.1 document. */
export const taskOpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Warren task gateway',
    version: '1.0.0',
    description:
      'Submit tasks over HTTP and poll for their results (async request-reply). Timestamps are ISO 8601 strings in UTC. ' +
      'A task is recorded by the result keeper shortly after it is accepted; until then GET reports it as queued.',
  },
  servers: [{ url: '/' }],
  security: [{ basic: [] }],
  paths: {
    '/api/tasks/{name}': {
      post: {
        summary: 'Submit a task',
        operationId: 'submitTask',
        parameters: [{ name: 'name', in: 'path', required: true, description: '1 to 200 characters of A-Z a-z 0-9 _ . : -', schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,200}$' } }, idempotencyKeyParameter],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/SubmitRequest' } } } },
        responses: { '200': replayedResponse, '202': acceptedResponse, '400': error('Bad JSON, a bad task name or bad options.'), '413': error('The body is larger than the node accepts.'), '415': error('The body is not application/json.'), ...common },
      },
    },
    '/api/tasks/{id}': {
      get: {
        summary: 'A task\'s status, and its result or error once finished',
        operationId: 'getTask',
        parameters: [
          idParameter,
          {
            name: 'wait', in: 'query',
            description: 'Long-poll: wait up to this many seconds for the task to finish before answering (default 0).',
            schema: { type: 'integer', minimum: 0, maximum: TASK_WAIT_MAX_SECONDS, default: 0 },
          },
        ],
        responses: {
          '200': {
            description: 'The task. While it is queued or running, Retry-After says when to poll again.',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Task' } } },
          },
          '404': error('No such task (never submitted, or past its retention).'),
          ...common,
        },
      },
    },
    '/api/tasks/stats': {
      get: {
        summary: 'Per task name: throughput, response time, and latency split into wait and processing',
        operationId: 'getTaskStats',
        responses: {
          '200': {
            description: 'An object keyed by task name: { sinceStart, windows: { "60s", "300s", "900s" } }, each with finished, succeeded, failed, throughputPerSecond and responseMs / waitMs / processingMs ({ mean, p50, p90, p99 }).',
            content: { 'application/json': { schema: { type: 'object', additionalProperties: { type: 'object' } } } },
          },
          ...common,
        },
      },
    },
    '/api/tasks': {
      get: {
        summary: 'List tasks, newest first',
        operationId: 'listTasks',
        parameters: [
          { name: 'name', in: 'query', schema: { type: 'string' } },
          { name: 'state', in: 'query', schema: { type: 'string', enum: TASK_STATES } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: LIST_LIMIT_MAX, default: LIST_LIMIT_DEFAULT } },
          { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
        ],
        responses: {
          '200': { description: 'The tasks.', content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Task' } } } } },
          '400': error('A bad filter or paging value.'),
          ...common,
        },
      },
    },
    '/api/tasks/{id}/retry': {
      post: {
        summary: 'Re-queue a failed or dead task for a new run',
        operationId: 'retryTask',
        parameters: [idParameter],
        responses: {
          '202': acceptedResponse,
          '404': error('No such task.'),
          '409': error('The task is not failed or dead.'),
          ...common,
        },
      },
    },
    ...schedulePaths,
    '/api/tasks/openapi.json': {
      get: { summary: 'This document', operationId: 'taskOpenApi', responses: { '200': { description: 'OpenAPI 3.1 document.' } } },
    },
  },
  components: {
    securitySchemes: { basic: { type: 'http', scheme: 'basic', description: 'A broker user (as for AMQP).' } },
    schemas: { SubmitRequest: submitBodySchema, Accepted: acceptedSchema, Task: taskSchema, Error: errorSchema, Replayed: replayedSchema, Schedule: scheduleSchema },
  },
} as const;
