/**
 * What a result store keeps for idempotency keys and cron schedules, and the atomic claims that make
 * them safe with several keepers on one store: a key is claimed by one task, a schedule's slot by one
 * keeper (both by a unique constraint: INSERT ... ON CONFLICT). Part of ResultStore; the conformance
 * suite (test/unit/tasks/scheduling-store-conformance.ts) runs against every implementation.
 */
import type { IdempotencyKeyOwner } from '../idempotency.js';
import type { Schedule } from '../schedule.js';

/** A submit's claim of an idempotency key for a task name. */
export interface IdempotencyKeyClaim {
  name: string;
  key: string;
  /** The id of the task the submit will create if it wins. */
  id: string;
  /** When the claim is made; a held key whose expiresAt is at or before it is free again. */
  claimedAt: number;
  expiresAt: number;
  /**
   * A held key claimed at or before this time whose task the store never recorded is abandoned (its
   * submitter died before publishing) and is taken over too.
   */
  abandonedBefore: number;
}

/** A claim of one slot of a schedule by a keeper, with the id of the task it will submit. */
export interface ScheduleSlot {
  scheduleId: string;
  /** The slot's instant, ms since the epoch. */
  slotAt: number;
  taskId: string;
  claimedAt: number;
}

/** Idempotency keys and schedules in a result store. */
export interface SchedulingStore {
  /**
   * Claims `claim.key` for `claim.name` atomically: the owner is `claim.id` (replayed false) when the key
   * was free, expired or abandoned, else the task that holds it (replayed true).
   */
  claimIdempotencyKey(claim: IdempotencyKeyClaim): Promise<IdempotencyKeyOwner>;
  /** Frees a key if `id` still holds it (its submit failed to publish); true when it did. */
  releaseIdempotencyKey(release: { name: string; key: string; id: string }): Promise<boolean>;
  /** Deletes keys whose window ended at or before `now`; returns how many. */
  deleteExpiredIdempotencyKeys(now: number): Promise<number>;
  /** Creates or replaces a schedule (an existing one keeps its createdAt); returns it as stored. */
  putSchedule(schedule: Schedule): Promise<Schedule>;
  getSchedule(id: string): Promise<Schedule | undefined>;
  /** Every schedule, by id. */
  listSchedules(): Promise<Schedule[]>;
  /** Deletes a schedule and its slots; true when it existed. */
  deleteSchedule(id: string): Promise<boolean>;
  /**
   * Claims a slot: true only for the one caller that inserted it, and only while the schedule exists and
   * no slot at or after it is claimed (a keeper with a late clock cannot fire an older slot).
   */
  claimScheduleSlot(slot: ScheduleSlot): Promise<boolean>;
  /** Records that a claimed slot's task was published. */
  markScheduleSlotSubmitted(slot: { scheduleId: string; slotAt: number; submittedAt: number }): Promise<void>;
  /**
   * Takes over slots claimed before `claimedBefore` and never marked submitted (their keeper died or
   * lost the broker): sets their claimedAt to `claimedAt` and returns them; each goes to one caller.
   */
  reclaimScheduleSlots(reclaim: { claimedBefore: number; claimedAt: number }): Promise<ScheduleSlot[]>;
  /** Deletes submitted slots before `slotBefore`, always keeping each schedule's latest; returns how many. */
  deleteScheduleSlotsBefore(slotBefore: number): Promise<number>;
}

/** A schedule's row: JSON text for payload and options. */
export interface ScheduleRow {
  id: string;
  task_name: string;
  cron: string;
  tz: string;
  payload: string;
  options: string;
  created_at: number;
  updated_at: number;
}

/** The row a schedule is stored as. */
export function toScheduleRow(schedule: Schedule): ScheduleRow {
  return {
    id: schedule.id,
    task_name: schedule.name,
    cron: schedule.cron,
    tz: schedule.tz,
    payload: JSON.stringify(schedule.payload ?? null),
    options: JSON.stringify(schedule.options),
    created_at: schedule.createdAt,
    updated_at: schedule.updatedAt,
  };
}

/** The schedule a row holds. */
export function fromScheduleRow(row: ScheduleRow): Schedule {
  return {
    id: row.id,
    name: row.task_name,
    cron: row.cron,
    tz: row.tz,
    payload: JSON.parse(row.payload) as unknown,
    options: JSON.parse(row.options) as Schedule['options'],
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** A slot's row. */
export interface ScheduleSlotRow {
  schedule_id: string;
  slot_at: number;
  task_id: string;
  claimed_at: number;
}

/** The slot a row holds. */
export function fromScheduleSlotRow(row: ScheduleSlotRow): ScheduleSlot {
  return { scheduleId: row.schedule_id, slotAt: Number(row.slot_at), taskId: row.task_id, claimedAt: Number(row.claimed_at) };
}

/** Every method of SchedulingStore (the compile-time check below fails when one is missing). */
export const SCHEDULING_STORE_METHODS = [
  'claimIdempotencyKey', 'releaseIdempotencyKey', 'deleteExpiredIdempotencyKeys', 'putSchedule', 'getSchedule', 'listSchedules',
  'deleteSchedule', 'claimScheduleSlot', 'markScheduleSlotSubmitted', 'reclaimScheduleSlots', 'deleteScheduleSlotsBefore',
] as const satisfies readonly (keyof SchedulingStore)[];
const everySchedulingMethodListed: Exclude<keyof SchedulingStore, (typeof SCHEDULING_STORE_METHODS)[number]> extends never ? true : never = true;
void everySchedulingMethodListed;

/** A SchedulingStore whose every call is `send(method, argument)` (a store in another thread). */
export function forwardedSchedulingStore(send: (method: keyof SchedulingStore, argument: unknown) => Promise<unknown>): SchedulingStore {
  return Object.fromEntries(SCHEDULING_STORE_METHODS.map((method) => [method, (argument: unknown) => send(method, argument)])) as unknown as SchedulingStore;
}
