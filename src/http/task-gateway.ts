/**
 * The HTTP task gateway, following the async request-reply convention: POST submits and answers 202
 * with where to poll (Location) and when (Retry-After); GET reports the task until it is finished.
 * docs/tasks-http.md describes it for people, task-openapi.ts for machines.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TERMINAL_STATES, isValidTaskName, type TaskState } from '../tasks/protocol.js';
import type { TaskQuery } from '../tasks/store/result-store.js';
import { requestUser } from './basic-auth.js';
import { permits } from '../broker/access-control.js';
import { HttpError } from './errors.js';
import type { HttpAuthenticator } from './http-authenticator.js';
import type { TaskGatewayBackend, TaskSubmitOptions } from './task-backend.js';
import { taskOpenApiDocument } from './task-openapi.js';
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, TASK_WAIT_MAX_SECONDS, getTaskQuerySchema, listQuerySchema, submitBodySchema, webhookSecretQuerySchema } from './task-schemas.js';
import { taskView } from './task-view.js';
import { registerScheduleRoutes } from './schedule-routes.js';
import { registerTaskHistoryRoute } from './task-history-route.js';
import { idempotencyKeyOption, replayedSubmit } from './submit-idempotency.js';
import { delayMsOf } from '../tasks/run-at.js';

/** The vhost the task layer lives in: the node's own keeper and client connect to it. */
export const TASKS_VHOST = '/';

/** Seconds a client is told to wait before polling a task that is not finished yet. */
const POLL_AFTER_SECONDS = 1;

/** Longest task id looked up; anything longer is no task. */
const TASK_ID_MAX_LENGTH = 200;

interface SubmitBody {
  payload?: unknown;
  options?: TaskSubmitOptions;
}

interface ListQuery {
  name?: string;
  state?: TaskState;
  limit?: string;
  offset?: string;
}

/** Registers the task routes under /api/tasks; without a backend they answer 503 (keeper disabled). */
export function registerTaskGateway(app: FastifyInstance, users: HttpAuthenticator, backend: TaskGatewayBackend | undefined): void {
  const tasks = (request: FastifyRequest): TaskGatewayBackend => {
    if (!hasTasksVhostAccess(users, request)) {
      throw new HttpError(403, `access to vhost '${TASKS_VHOST}' refused for user '${requestUser(request).username}'`);
    }
    if (backend === undefined) throw new HttpError(503, 'the task gateway is disabled on this node (no task keeper runs)');
    return backend;
  };
  // Submitting, cancelling, retrying and scheduling publish to the default exchange for the user.
  const tasksToWrite = (request: FastifyRequest): TaskGatewayBackend => {
    const backendForRequest = tasks(request);
    if (!mayPublishTasks(users, request)) {
      throw new HttpError(403, `write access to exchange 'amq.default' in vhost '${TASKS_VHOST}' refused for user '${requestUser(request).username}'`);
    }
    return backendForRequest;
  };

  app.get('/api/tasks/openapi.json', async () => taskOpenApiDocument);

  app.get('/api/tasks/stats', async (request) => tasks(request).stats());

  app.get<{ Querystring: { url: string } }>('/api/tasks/webhooks/secret', { schema: { querystring: webhookSecretQuerySchema } }, async (request) => {
    const backendForRequest = tasks(request);
    if (backendForRequest.webhookSecret === undefined) throw new HttpError(503, 'this node cannot hand out webhook secrets');
    const { url } = request.query;
    return { url, secret: await backendForRequest.webhookSecret(url) };
  });

  app.get<{ Querystring: ListQuery }>('/api/tasks', { schema: { querystring: listQuerySchema } }, async (request) => {
    const records = await tasks(request).list(listQuery(request.query));
    return records.map(taskView);
  });

  app.post<{ Params: { name: string }; Body: SubmitBody }>(
    '/api/tasks/:name',
    { schema: { body: submitBodySchema } },
    async (request, reply) => {
      const { name } = request.params;
      if (!isValidTaskName(name)) throw new HttpError(400, 'a task name is 1 to 200 characters of A-Z a-z 0-9 _ . : -');
      const options = { ...request.body.options, ...traceContext(request), ...idempotencyKeyOption(request) };
      const { id, replayed } = await tasksToWrite(request).submit(name, request.body.payload ?? null, options);
      if (replayed === true) return replayedSubmit(reply, id, (await tasks(request).get(id))?.state ?? 'queued');
      return accepted(reply, id, Math.max(POLL_AFTER_SECONDS, Math.ceil(delayMsOf(options) / 1000)));
    },
  );

  app.get<{ Params: { id: string }; Querystring: { wait?: string } }>('/api/tasks/:id', { schema: { querystring: getTaskQuerySchema } }, async (request, reply) => {
    const backendForRequest = tasks(request);
    const { id } = request.params;
    const waitSeconds = Number(request.query.wait ?? 0);
    if (waitSeconds > TASK_WAIT_MAX_SECONDS) throw new HttpError(400, `wait must be 0 to ${TASK_WAIT_MAX_SECONDS} seconds`);
    const record = id.length > TASK_ID_MAX_LENGTH ? undefined : await waitForFinish(backendForRequest, id, waitSeconds * 1000, request);
    if (record === undefined) throw new HttpError(404, `no task '${id}'`);
    if (record.state === 'queued' || record.state === 'running') void reply.header('Retry-After', String(POLL_AFTER_SECONDS));
    return taskView(record);
  });

  app.delete<{ Params: { id: string } }>('/api/tasks/:id', async (request) => {
    const backendForRequest = tasksToWrite(request);
    const { id } = request.params;
    if (backendForRequest.cancel === undefined) throw new HttpError(503, 'this node cannot cancel tasks');
    const cancelled = id.length > TASK_ID_MAX_LENGTH ? { outcome: 'notFound' as const } : await backendForRequest.cancel(id);
    switch (cancelled.outcome) {
      case 'cancelled':
        return taskView(cancelled.record);
      case 'notFound':
        throw new HttpError(404, `no task '${id}'`);
      case 'finished':
        throw new HttpError(409, cancelled.reason);
    }
  });

  registerTaskHistoryRoute(app, tasks);

  registerScheduleRoutes(app, (request, access) => {
    const schedules = (access === 'write' ? tasksToWrite(request) : tasks(request)).schedules;
    if (schedules === undefined) throw new HttpError(503, 'schedules need a task keeper, which this node does not run');
    return schedules;
  });

  app.post<{ Params: { id: string } }>('/api/tasks/:id/retry', async (request, reply) => {
    const backendForRequest = tasksToWrite(request);
    const { id } = request.params;
    const retried = id.length > TASK_ID_MAX_LENGTH ? { outcome: 'notFound' as const } : await backendForRequest.retry(id);
    switch (retried.outcome) {
      case 'retried':
        return accepted(reply, id, POLL_AFTER_SECONDS);
      case 'notFound':
        throw new HttpError(404, `no task '${id}'`);
      case 'notRetryable':
        throw new HttpError(409, retried.reason);
    }
  });
}

/** Long-poll delays: the first check comes soon, later ones farther apart. */
const WAIT_POLL_FIRST_MS = 25;
const WAIT_POLL_MAX_MS = 250;

/**
 * The task's record once it is finished, or when `waitMs` ran out (or the client went away), whichever
 * comes first; undefined when the task is unknown throughout.
 */
async function waitForFinish(backend: TaskGatewayBackend, id: string, waitMs: number, request: FastifyRequest): Promise<Awaited<ReturnType<TaskGatewayBackend['get']>>> {
  const deadline = Date.now() + waitMs;
  let gone = false;
  request.raw.once('close', () => (gone = true));
  let pauseMs = WAIT_POLL_FIRST_MS;
  for (;;) {
    const record = await backend.get(id);
    const finished = record !== undefined && TERMINAL_STATES.includes(record.state);
    if (finished || gone || Date.now() + pauseMs > deadline) return record;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    pauseMs = Math.min(pauseMs * 2, WAIT_POLL_MAX_MS);
  }
}

/** A 202 pointing at the task's status: Location to poll, Retry-After seconds to wait first. */
function accepted(reply: FastifyReply, id: string, retryAfterSeconds: number): { id: string; state: 'queued' } {
  void reply.code(202).header('Location', `/api/tasks/${encodeURIComponent(id)}`).header('Retry-After', String(retryAfterSeconds));
  return { id, state: 'queued' };
}

/** The request's W3C trace context (traceparent, tracestate headers), passed on to the task when well-formed. */
function traceContext(request: FastifyRequest): { traceparent?: string; tracestate?: string } {
  const { traceparent, tracestate } = request.headers;
  if (typeof traceparent !== 'string' || !/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(traceparent)) return {};
  return typeof tracestate === 'string' && tracestate.length <= 512 ? { traceparent, tracestate } : { traceparent };
}

function listQuery(query: ListQuery): TaskQuery {
  const result: TaskQuery = { limit: LIST_LIMIT_DEFAULT, offset: 0 };
  if (query.name !== undefined) {
    if (!isValidTaskName(query.name)) throw new HttpError(400, `'${query.name}' is not a task name`);
    result.name = query.name;
  }
  if (query.state !== undefined) result.state = query.state;
  if (query.limit !== undefined) {
    const limit = Number(query.limit);
    if (limit < 1 || limit > LIST_LIMIT_MAX) throw new HttpError(400, `limit must be 1 to ${LIST_LIMIT_MAX}`);
    result.limit = limit;
  }
  if (query.offset !== undefined) result.offset = Number(query.offset);
  return result;
}

function hasTasksVhostAccess(users: HttpAuthenticator, request: FastifyRequest): boolean {
  return users.permission(requestUser(request), TASKS_VHOST) !== undefined;
}

/** Write permission on the default exchange (RabbitMQ names it `amq.default`), which task messages go through. */
function mayPublishTasks(users: HttpAuthenticator, request: FastifyRequest): boolean {
  return permits(users.permission(requestUser(request), TASKS_VHOST), 'write', 'amq.default');
}
