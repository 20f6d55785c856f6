/**
 * The state transition every result store shares: given what a store knows about a task and one state
 * event, the record after it. Events arrive at least once and in any order (several workers, keepers
 * and redeliveries), so the outcome must not depend on arrival order: the record follows the newest
 * event by position (run, attempt, rank of its kind), and the few fields that other events alone carry
 * (the payload of 'queued', the start of the attempt the record reflects, the first and last moments)
 * are merged in whichever order they come. Applying any permutation of a set of events therefore
 * yields the same record (test/unit/tasks/apply-event.test.ts checks it with fast-check).
 */
import { isDeepStrictEqual } from 'node:util';
import { assertNever } from '../../util/assert.js';
import { DEFAULT_TASK_OPTIONS, type TaskEvent, type TaskEventKind } from '../protocol.js';
import type { TaskRecord } from './result-store.js';

/**
 * Rank of each kind within an attempt. 'queued' < 'started' < the outcomes. The outcomes of one
 * attempt only meet when events conflict (a worker's redelivered attempt ended otherwise, say); then
 * the more final one wins, in a fixed order, so every keeper settles on the same record whatever order
 * it saw them in. A 'cancelled' event stands after every attempt of its run (CANCELLED_ATTEMPT).
 */
const KIND_RANK: Readonly<Record<TaskEventKind, number>> = {
  queued: 0,
  started: 1,
  retrying: 2,
  failed: 3,
  dead: 4,
  cancelled: 5,
  succeeded: 6,
};

/** Where an event stands in a task's life; positions compare run first, then attempt, then rank. */
export interface EventPosition {
  run: number;
  attempt: number;
  rank: number;
}

/**
 * The attempt a 'cancelled' event or record stands at: after every attempt of its run, so that nothing
 * else of a cancelled run (a late outcome, an attempt a worker started before it heard of the cancel)
 * changes the record; only a new run does.
 */
const CANCELLED_ATTEMPT = Number.MAX_SAFE_INTEGER;

/** The position of an event. A run's 'queued' event always counts as attempt 1, whatever it says. */
export function eventPosition(event: Pick<TaskEvent, 'kind' | 'run' | 'attempt'>): EventPosition {
  const attempt = event.kind === 'queued' ? 1 : event.kind === 'cancelled' ? CANCELLED_ATTEMPT : event.attempt;
  return { run: event.run, attempt, rank: KIND_RANK[event.kind] };
}

/** The position of the event a record reflects, recovered from its state and attempts. */
export function recordPosition(record: TaskRecord): EventPosition {
  const { run, attempts, state } = record;
  switch (state) {
    case 'queued':
      // Queued with attempts started means an attempt failed and the next one waits ('retrying').
      return attempts === 0 ? { run, attempt: 1, rank: KIND_RANK.queued } : { run, attempt: attempts, rank: KIND_RANK.retrying };
    case 'running':
      return { run, attempt: attempts, rank: KIND_RANK.started };
    case 'succeeded':
    case 'failed':
    case 'dead':
      return { run, attempt: attempts, rank: KIND_RANK[state] };
    case 'cancelled':
      return { run, attempt: CANCELLED_ATTEMPT, rank: KIND_RANK[state] };
    default:
      return assertNever(state);
  }
}

/** Negative, zero or positive as position `a` is older than, equal to or newer than `b`. */
export function comparePositions(a: EventPosition, b: EventPosition): number {
  return a.run - b.run || a.attempt - b.attempt || a.rank - b.rank;
}

/**
 * The record after applying `event` to `current` (undefined for a task not seen yet), or undefined
 * when the event changes nothing: a duplicate, or an older event that adds nothing the record lacks.
 */
export function applyEvent(current: TaskRecord | undefined, event: TaskEvent): TaskRecord | undefined {
  const isNewer = current === undefined || comparePositions(eventPosition(event), recordPosition(current)) > 0;
  const next = isNewer ? advance(current, event) : { ...current };
  mergeCarriedFields(next, event);
  return current !== undefined && isDeepStrictEqual(next, current) ? undefined : next;
}

/** The record once `event`, newer than anything `current` reflects, has moved the task on. */
function advance(current: TaskRecord | undefined, event: TaskEvent): TaskRecord {
  const base = {
    id: event.id,
    name: event.name,
    run: event.run,
    payload: current?.payload,
    options: current?.options ?? DEFAULT_TASK_OPTIONS,
    createdAt: current?.createdAt ?? event.at,
    updatedAt: current?.updatedAt ?? event.at,
  };
  // The start of the attempt the record reflects survives an outcome of that same attempt only.
  const sameAttempt = current !== undefined && current.run === event.run && current.attempts === event.attempt;
  const startedAt = sameAttempt && current.startedAt !== undefined ? { startedAt: current.startedAt } : {};
  const error = event.error !== undefined ? { error: event.error } : {};
  // The last progress of an attempt stays on the record when that attempt ends (see apply-progress.ts).
  const kept = sameAttempt ? { ...startedAt, ...keptProgress(current) } : startedAt;
  switch (event.kind) {
    case 'queued':
      // A new run (or the first) starts clean: no attempts, result, error or finish from before.
      return { ...base, state: 'queued', attempts: 0 };
    case 'started':
      return { ...base, state: 'running', attempts: event.attempt, startedAt: event.at };
    case 'retrying': {
      const retryAt = event.retryAt !== undefined ? { retryAt: event.retryAt } : {};
      return { ...base, state: 'queued', attempts: event.attempt, ...kept, ...error, ...retryAt };
    }
    case 'succeeded': {
      const result = event.result !== undefined ? { result: event.result } : {};
      return { ...base, state: 'succeeded', attempts: event.attempt, ...kept, ...result, finishedAt: event.at };
    }
    case 'failed':
    case 'dead':
    case 'cancelled':
      return { ...base, state: event.kind, attempts: event.attempt, ...kept, ...error, finishedAt: event.at };
    default:
      return assertNever(event.kind);
  }
}

/** The progress fields of a record, if it has any. */
function keptProgress(record: TaskRecord): Pick<TaskRecord, 'progress' | 'progressAt'> {
  return record.progressAt === undefined ? {} : { progress: record.progress, progressAt: record.progressAt };
}

/**
 * Merges what an event carries whether or not it is the newest, with rules that do not depend on
 * arrival order: the earliest creation time, the latest update time, the payload and options of the
 * current run's 'queued' event, and the latest start of the attempt the record reflects (from its
 * 'started' event, or the `startedAt` its outcome carries when the worker sent no 'started').
 */
function mergeCarriedFields(record: TaskRecord, event: TaskEvent): void {
  record.createdAt = Math.min(record.createdAt, event.enqueuedAt ?? event.at);
  record.updatedAt = Math.max(record.updatedAt, event.at);
  if (event.kind === 'queued' && event.run >= record.run) {
    if ('payload' in event) record.payload = event.payload;
    if (event.options !== undefined) record.options = event.options;
  }
  const startedAt = event.kind === 'started' ? event.at : event.startedAt;
  if (startedAt !== undefined && event.kind !== 'queued' && event.run === record.run && event.attempt === record.attempts) {
    record.startedAt = Math.max(record.startedAt ?? startedAt, startedAt);
  }
}
