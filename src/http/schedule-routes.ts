/**
 * Cron schedules over HTTP: PUT, GET and DELETE /api/tasks/schedules[/{id}]. A keeper stores and fires
 * them (docs/schedules.md); task-openapi.ts describes the routes.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Schedule, ScheduleOptions } from '../tasks/schedule.js';
import { nextRunAt } from '../tasks/schedule.js';
import { KeeperRequestError, TaskValidationError } from '../tasks/task-errors.js';
import { HttpError } from './errors.js';
import { putScheduleBodySchema } from './schedule-schemas.js';

/** What the schedule routes need: a TasksClient (asking a keeper) provides it. */
export interface ScheduleSource {
  schedule(id: string, name: string, cron: string, payload: unknown, options?: ScheduleOptions): Promise<Schedule>;
  schedules(): Promise<Schedule[]>;
  unschedule(id: string): Promise<boolean>;
}

/** A schedule as the HTTP API shows it: times as ISO 8601 strings, and the next slot. */
export interface ScheduleView {
  id: string;
  name: string;
  cron: string;
  tz: string;
  payload: unknown;
  options: Schedule['options'];
  createdAt: string;
  updatedAt: string;
  nextRunAt?: string;
}

interface PutScheduleBody {
  name: string;
  cron: string;
  tz?: string;
  payload?: unknown;
  options?: ScheduleOptions['options'];
}

const KEEPER_ERROR_STATUS = { not_found: 404, conflict: 409, bad_request: 400, internal: 500, unavailable: 503 } as const;

/** Registers the schedule routes; `schedulesFor` checks read or write access and gives the source (or throws an HttpError). */
export function registerScheduleRoutes(app: FastifyInstance, schedulesFor: (request: FastifyRequest, access: 'read' | 'write') => ScheduleSource): void {
  app.get('/api/tasks/schedules', async (request) => {
    const schedules = await schedulesFor(request, 'read').schedules().catch(rethrowAsHttpError);
    return schedules.map((schedule) => scheduleView(schedule, Date.now()));
  });

  app.get<{ Params: { id: string } }>('/api/tasks/schedules/:id', async (request) => {
    const schedules = await schedulesFor(request, 'read').schedules().catch(rethrowAsHttpError);
    const schedule = schedules.find((candidate) => candidate.id === request.params.id);
    if (schedule === undefined) throw new HttpError(404, `no schedule '${request.params.id}'`);
    return scheduleView(schedule, Date.now());
  });

  app.put<{ Params: { id: string }; Body: PutScheduleBody }>('/api/tasks/schedules/:id', { schema: { body: putScheduleBodySchema } }, async (request) => {
    const { name, cron, tz, payload, options } = request.body;
    const scheduleOptions: ScheduleOptions = {};
    if (tz !== undefined) scheduleOptions.tz = tz;
    if (options !== undefined) scheduleOptions.options = options;
    const schedule = await schedulesFor(request, 'write').schedule(request.params.id, name, cron, payload ?? null, scheduleOptions).catch(rethrowAsHttpError);
    return scheduleView(schedule, Date.now());
  });

  app.delete<{ Params: { id: string } }>('/api/tasks/schedules/:id', async (request, reply) => {
    const removed = await schedulesFor(request, 'write').unschedule(request.params.id).catch(rethrowAsHttpError);
    if (!removed) throw new HttpError(404, `no schedule '${request.params.id}'`);
    return reply.code(204).send();
  });
}

/** The HTTP view of a schedule, with its next slot after `now`. */
export function scheduleView(schedule: Schedule, now: number): ScheduleView {
  const view: ScheduleView = {
    id: schedule.id,
    name: schedule.name,
    cron: schedule.cron,
    tz: schedule.tz,
    payload: schedule.payload ?? null,
    options: schedule.options,
    createdAt: new Date(schedule.createdAt).toISOString(),
    updatedAt: new Date(schedule.updatedAt).toISOString(),
  };
  const next = nextRunAt(schedule, now);
  if (next !== undefined) view.nextRunAt = new Date(next).toISOString();
  return view;
}

/** Task-layer errors as HTTP errors: bad definitions 400, keeper refusals by code. */
function rethrowAsHttpError(error: unknown): never {
  if (error instanceof TaskValidationError) throw new HttpError(400, error.message);
  if (error instanceof KeeperRequestError) throw new HttpError(KEEPER_ERROR_STATUS[error.code], error.message);
  throw error;
}
