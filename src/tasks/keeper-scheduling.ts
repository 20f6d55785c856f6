/**
 * The keeper's part in idempotency keys and schedules: the keeper requests that claim and release
 * keys and define, list and delete schedules (docs/task-protocol.md, section 8), checked as peer input,
 * and the publishing of a schedule slot's task.
 */
import type { AMQPChannel } from '@cloudamqp/amqp-client';
import type { Clock } from './clock.js';
import { IDEMPOTENCY_ABANDONED_CLAIM_MS, IDEMPOTENCY_WINDOW_DEFAULT_MS, assertIdempotencyKey, type IdempotencyKeyOwner } from './idempotency.js';
import { TASK_EVENTS_EXCHANGE, eventRoutingKey, taskQueueName } from './protocol.js';
import { SCHEDULES_MAX, assertScheduleId, scheduleDefinition, type Schedule, type ScheduleDefinition } from './schedule.js';
import type { ScheduleRunner } from './schedule-runner.js';
import type { ScheduleSlot, SchedulingStore } from './store/scheduling-store.js';
import { KeeperRequestError, TaskValidationError } from './task-errors.js';
import { jsonMessage, queuedEvent, taskMessage, type TaskMessageInput } from './task-message.js';
import { assertTaskName } from './task-options.js';
import { declareTaskTopology } from './topology.js';

/** Keeper requests about idempotency keys and schedules. */
export type SchedulingRequest =
  | { op: 'claimIdempotencyKey'; name: string; key: string; id: string }
  | { op: 'releaseIdempotencyKey'; name: string; key: string; id: string }
  | { op: 'putSchedule'; schedule: ScheduleDefinition }
  | { op: 'listSchedules' }
  | { op: 'deleteSchedule'; id: string };

/** Ops of SchedulingRequest. */
export const SCHEDULING_OPS: readonly string[] = ['claimIdempotencyKey', 'releaseIdempotencyKey', 'putSchedule', 'listSchedules', 'deleteSchedule'];

/** Fields a successful reply to a SchedulingRequest adds to `{ ok: true }`. */
export interface SchedulingReplyFields {
  /** claimIdempotencyKey: who holds the key. */
  owner?: IdempotencyKeyOwner;
  /** putSchedule: the schedule as stored. */
  schedule?: Schedule;
  /** listSchedules: every schedule, by id. */
  schedules?: Schedule[];
  /** releaseIdempotencyKey, deleteSchedule: whether there was something to remove. */
  removed?: boolean;
}

/** The request in a parsed JSON object whose op is one of SCHEDULING_OPS; throws KeeperRequestError('bad_request'). */
export function parseSchedulingRequest(value: Record<string, unknown>): SchedulingRequest {
  try {
    switch (value['op']) {
      case 'claimIdempotencyKey':
      case 'releaseIdempotencyKey': {
        const { name, key, id } = value;
        assertTaskName(name);
        assertIdempotencyKey(key);
        if (typeof id !== 'string' || id === '' || id.length > 255) throw new TaskValidationError('id must be a string of 1-255 characters');
        return { op: value['op'], name, key, id };
      }
      case 'putSchedule': {
        const schedule = value['schedule'];
        if (typeof schedule !== 'object' || schedule === null) throw new TaskValidationError('schedule must be an object');
        const { id, name, cron, tz, payload, options } = schedule as Record<string, unknown>;
        const taskOptions = { ...(options as object | undefined) };
        delete (taskOptions as { delayMs?: unknown }).delayMs; // a definition's resolved options carry delayMs 0
        return { op: 'putSchedule', schedule: scheduleDefinition(id, name, cron, payload, { tz: tz as string, options: taskOptions }) };
      }
      case 'listSchedules':
        return { op: 'listSchedules' };
      case 'deleteSchedule':
        assertScheduleId(value['id']);
        return { op: 'deleteSchedule', id: value['id'] };
      default:
        throw new TaskValidationError(`unknown op ${JSON.stringify(value['op'])}`);
    }
  } catch (error) {
    throw error instanceof TaskValidationError ? new KeeperRequestError('bad_request', error.message) : error;
  }
}

/** Options of KeeperScheduling. */
export interface KeeperSchedulingOptions {
  store: SchedulingStore;
  clock: Clock;
  /** How long a claimed idempotency key is held (default 24 h). */
  idempotencyWindowMs?: number;
  /** Runs a pass after a schedule changed, so this keeper fires it without waiting for its poll. */
  runner: Pick<ScheduleRunner, 'wake'>;
}

/** Serves SchedulingRequests from the keeper's store. */
export class KeeperScheduling {
  constructor(private readonly options: KeeperSchedulingOptions) {}

  /** Answers one request. */
  async answer(request: SchedulingRequest): Promise<SchedulingReplyFields> {
    const { store, clock } = this.options;
    switch (request.op) {
      case 'claimIdempotencyKey': {
        const now = clock.now();
        const windowMs = this.options.idempotencyWindowMs ?? IDEMPOTENCY_WINDOW_DEFAULT_MS;
        const owner = await store.claimIdempotencyKey({
          name: request.name, key: request.key, id: request.id, claimedAt: now, expiresAt: now + windowMs, abandonedBefore: now - IDEMPOTENCY_ABANDONED_CLAIM_MS,
        });
        return { owner };
      }
      case 'releaseIdempotencyKey':
        return { removed: await store.releaseIdempotencyKey(request) };
      case 'putSchedule':
        return { schedule: await this.putSchedule(request.schedule) };
      case 'listSchedules':
        return { schedules: await store.listSchedules() };
      case 'deleteSchedule':
        return { removed: await store.deleteSchedule(request.id) };
    }
  }

  private async putSchedule(definition: ScheduleDefinition): Promise<Schedule> {
    const { store, clock } = this.options;
    const existing = await store.getSchedule(definition.id);
    if (existing === undefined && (await store.listSchedules()).length >= SCHEDULES_MAX) {
      throw new KeeperRequestError('conflict', `there are already ${SCHEDULES_MAX} schedules; remove one first`);
    }
    const now = clock.now();
    const stored = await store.putSchedule({ ...definition, createdAt: now, updatedAt: now });
    // Answer once this keeper's timer is armed for the new schedule's next slot, so the caller knows
    // the schedule is live here (and a test's simulated clock cannot jump past a slot not yet armed).
    await this.options.runner.wake();
    return stored;
  }
}

/**
 * Publishes the task of a schedule's slot on a confirm-mode channel, as a submitter does (section 7):
 * the queued event, then the task message straight to the work queue. Its enqueuedAt is the slot's time,
 * so the record's createdAt says which slot it is.
 */
export async function submitSlotTask(channel: AMQPChannel, schedule: Schedule, slot: ScheduleSlot, now: number): Promise<void> {
  await declareTaskTopology(channel, schedule.name);
  const input: TaskMessageInput = {
    id: slot.taskId,
    name: schedule.name,
    payloadJson: JSON.stringify(schedule.payload ?? null),
    options: { ...schedule.options, delayMs: 0 },
    run: 1,
    attempt: 1,
    enqueuedAt: slot.slotAt,
  };
  const event = jsonMessage(queuedEvent(input, now));
  const message = taskMessage(input);
  await Promise.all([
    channel.basicPublish(TASK_EVENTS_EXCHANGE, eventRoutingKey({ kind: 'queued', name: schedule.name }), event.body, event.properties),
    channel.basicPublish('', taskQueueName(schedule.name), message.body, message.properties),
  ]);
}
