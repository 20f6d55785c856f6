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

/** The body of a webhook: Standard Webhooks' recommended { type, timestamp, data }. */
const taskWebhookSchema = {
  type: 'object',
  required: ['type', 'timestamp', 'data'],
  properties: {
    type: { type: 'string', enum: ['task.succeeded', 'task.failed', 'task.dead', 'task.cancelled'], description: 'task. and the state the task finished in.' },
    timestamp: { type: 'string', format: 'date-time', description: 'When the task finished.' },
    data: { $ref: '#/components/schemas/Task' },
  },
} as const;

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
      delete: {
        summary: 'Cancel a queued or running task',
        description:
          'The task is recorded as cancelled at once and never runs; a running handler is told through its abort signal, ' +
          'and its outcome is not recorded (no retry, no dead-lettering).',
        operationId: 'cancelTask',
        parameters: [idParameter],
        responses: {
          '200': { description: 'The task, now cancelled.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Task' } } } },
          '404': error('No such task.'),
          '409': error('The task is already finished (succeeded, failed, dead or cancelled).'),
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
    '/api/tasks/webhooks/secret': {
      get: {
        summary: 'The secret a webhook receiver verifies signatures with',
        description: 'Every callback URL of one endpoint (scheme, host, port and path; the query string does not count) has one Standard Webhooks secret, derived from the keeper\'s signing key. See docs/webhooks.md.',
        operationId: 'getWebhookSecret',
        parameters: [{ name: 'url', in: 'query', required: true, description: 'A callback URL (http or https).', schema: { type: 'string' } }],
        responses: {
          '200': {
            description: 'The secret, whsec_ followed by base64 of the HMAC-SHA256 key.',
            content: { 'application/json': { schema: { type: 'object', required: ['url', 'secret'], properties: { url: { type: 'string' }, secret: { type: 'string', pattern: '^whsec_' } } } } },
          },
          '400': error('The url is missing or not an http(s) URL.'),
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
    '/api/tasks/{id}/history': {
      get: {
        summary: "The task's recorded state events (queued, started, retrying, succeeded, ...), oldest first; times as ISO 8601 strings",
        operationId: 'getTaskHistory',
        parameters: [idParameter],
        responses: {
          '200': { description: 'The events: kind, run, attempt, at, and worker, error or retryAt where the event has them.' },
          '404': error('No such task.'),
          ...common,
        },
      },
    },
    ...schedulePaths,
    '/api/tasks/openapi.json': {
      get: { summary: 'This document', operationId: 'taskOpenApi', responses: { '200': { description: 'OpenAPI 3.1 document.' } } },
    },
  },
  webhooks: {
    taskFinished: {
      post: {
        summary: 'A finished task, POSTed to its options.callbackUrl',
        description:
          'Signed per Standard Webhooks: webhook-signature is v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}"> under the endpoint\'s secret ' +
          '(GET /api/tasks/webhooks/secret). Retried with backoff until a 2xx answer; every attempt shows as webhook on the task. See docs/webhooks.md.',
        operationId: 'taskFinished',
        security: [],
        parameters: [
          { name: 'webhook-id', in: 'header', required: true, description: 'The delivery\'s id, the same on every retry.', schema: { type: 'string' } },
          { name: 'webhook-timestamp', in: 'header', required: true, description: 'When this attempt was made, Unix seconds.', schema: { type: 'string', pattern: '^[0-9]+$' } },
          { name: 'webhook-signature', in: 'header', required: true, description: 'Space-separated v1,<base64> signatures.', schema: { type: 'string' } },
        ],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/TaskWebhook' } } } },
        responses: {
          '2XX': { description: 'Taken: the delivery is done.' },
          '410': { description: 'Gone: the delivery is given up.' },
          default: { description: 'Any other answer, a timeout or a network error: tried again later.' },
        },
      },
    },
  },
  components: {
    securitySchemes: { basic: { type: 'http', scheme: 'basic', description: 'A broker user (as for AMQP).' } },
    schemas: { SubmitRequest: submitBodySchema, Accepted: acceptedSchema, Task: taskSchema, Error: errorSchema, TaskWebhook: taskWebhookSchema, Replayed: replayedSchema, Schedule: scheduleSchema },
  },
} as const;
