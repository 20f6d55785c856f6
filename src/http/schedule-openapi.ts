/** The schedule routes' entries in the task gateway's OpenAPI document (task-openapi.ts spreads them in). */
import { putScheduleBodySchema } from './schedule-schemas.js';

const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const scheduleContent = { 'application/json': { schema: { $ref: '#/components/schemas/Schedule' } } };

const scheduleIdParameter = {
  name: 'id', in: 'path', required: true,
  description: 'The schedule id, chosen by whoever defines it: 1 to 200 characters of A-Z a-z 0-9 _ . : -',
  schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,200}$' },
};

const common = {
  '401': error('No or wrong credentials (HTTP basic, a broker user).'),
  '403': error('The user has no access to the vhost "/", where tasks live.'),
  '503': error('No task keeper answered (schedules are kept and fired by keepers).'),
};

/** Paths of /api/tasks/schedules. */
export const schedulePaths = {
  '/api/tasks/schedules': {
    get: {
      summary: 'List cron schedules, by id',
      operationId: 'listSchedules',
      responses: {
        '200': { description: 'The schedules.', content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Schedule' } } } } },
        ...common,
      },
    },
  },
  '/api/tasks/schedules/{id}': {
    put: {
      summary: 'Create or replace a cron schedule: a keeper submits the task at every slot, once per slot',
      operationId: 'putSchedule',
      parameters: [scheduleIdParameter],
      requestBody: { required: true, content: { 'application/json': { schema: putScheduleBodySchema } } },
      responses: {
        '200': { description: 'The schedule as stored, with its next slot.', content: scheduleContent },
        '400': error('A bad id, task name, cron expression, time zone or option.'),
        '409': error('The store holds the most schedules it may.'),
        ...common,
      },
    },
    get: {
      summary: 'One cron schedule',
      operationId: 'getSchedule',
      parameters: [scheduleIdParameter],
      responses: { '200': { description: 'The schedule.', content: scheduleContent }, '404': error('No such schedule.'), ...common },
    },
    delete: {
      summary: 'Delete a cron schedule (tasks it already submitted are not touched)',
      operationId: 'deleteSchedule',
      parameters: [scheduleIdParameter],
      responses: { '204': { description: 'Deleted.' }, '404': error('No such schedule.'), ...common },
    },
  },
} as const;
