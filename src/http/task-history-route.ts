/**
 * GET /api/tasks/{id}/history: the state events the result keeper recorded for a task (queued, started,
 * retrying, succeeded, ...), oldest first, with times as ISO 8601 strings. The web UI's task page shows it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TaskEvent } from '../tasks/protocol.js';
import { HttpError } from './errors.js';
import type { TaskGatewayBackend } from './task-backend.js';

/** One recorded event as the HTTP API shows it: the event without its protocol marker, `at` as an ISO string. */
export type TaskHistoryEntry = Omit<TaskEvent, 'protocol' | 'at' | 'retryAt' | 'enqueuedAt'> & {
  at: string;
  retryAt?: string;
  enqueuedAt?: string;
};

/** Longest task id looked up; anything longer is no task. */
const TASK_ID_MAX_LENGTH = 200;

/** Registers GET /api/tasks/:id/history; `tasks` authorizes the request and returns the backend. */
export function registerTaskHistoryRoute(app: FastifyInstance, tasks: (request: FastifyRequest) => TaskGatewayBackend): void {
  app.get<{ Params: { id: string } }>('/api/tasks/:id/history', async (request) => {
    const backend = tasks(request);
    const { id } = request.params;
    if (backend.history === undefined) throw new HttpError(503, 'this node keeps no task histories');
    const events = id.length > TASK_ID_MAX_LENGTH ? [] : await backend.history(id);
    // An unknown task and one not recorded yet look alike here; the task itself tells which (GET /api/tasks/{id}).
    if (events.length === 0 && (await backend.get(id)) === undefined) throw new HttpError(404, `no task '${id}'`);
    return events.map(historyEntry);
  });
}

function historyEntry(event: TaskEvent): TaskHistoryEntry {
  const { protocol: _protocol, at, retryAt, enqueuedAt, ...rest } = event;
  const entry: TaskHistoryEntry = { ...rest, at: new Date(at).toISOString() };
  if (retryAt !== undefined) entry.retryAt = new Date(retryAt).toISOString();
  if (enqueuedAt !== undefined) entry.enqueuedAt = new Date(enqueuedAt).toISOString();
  return entry;
}
