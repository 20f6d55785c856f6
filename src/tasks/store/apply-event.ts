/**
 * The state transition every result store shares: given what a store knows about a task and one state
 * event, the record after it. Events arrive at least once and in any order (several workers, keepers
 * and redeliveries), so the outcome must not depend on arrival order: the record follows the newest
 * event by position (run, attempt, rank of its kind), and the few fields that other events alone carry
 * (the payload of 'queued', the start of the attempt the record reflects, the first and last moments)
 * are merged in whichever order they come. Applying any permutation of a set of events therefore
 * yields the same record (test/unit/tasks/apply-event.test.ts checks it with fast-check).
 *
 * This runs once per event in the keeper, so it allocates little: the next record is worked out in a
 * draft that holds every field (one object shape), compared with the current record field by field,
 * and only then built, with its fields always in one order (task-rows.ts builds records read from a
 * row in the same order), so that the property accesses on records stay monomorphic.
 */
import { isDeepStrictEqual } from 'node:util';
import { assertNever } from '../../util/assert.js';
import { DEFAULT_TASK_OPTIONS, type TaskEvent, type TaskEventKind, type TaskState } from '../protocol.js';
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

/**
 * The attempt a 'cancelled' event or record stands at: after every attempt of its run, so that nothing
 * else of a cancelled run (a late outcome, an attempt a worker started before it heard of the cancel)
 * changes the record; only a new run does.
 */
const CANCELLED_ATTEMPT = Number.MAX_SAFE_INTEGER;

/** The attempt an event stands at. A run's 'queued' event always counts as attempt 1, whatever it says. */
function eventAttempt(event: TaskEvent): number {
  return event.kind === 'queued' ? 1 : event.kind === 'cancelled' ? CANCELLED_ATTEMPT : event.attempt;
}

/** The attempt of the event a record reflects, recovered from its state and attempts. */
function recordAttempt(record: TaskRecord): number {
  if (record.state === 'cancelled') return CANCELLED_ATTEMPT;
  // Queued with no attempt started yet reflects the run's 'queued' event, which stands at attempt 1.
  return record.state === 'queued' && record.attempts === 0 ? 1 : record.attempts;
}

/** The rank of the event a record reflects, recovered from its state and attempts. */
function recordRank(record: TaskRecord): number {
  const { state } = record;
  switch (state) {
    case 'queued':
      // Queued with attempts started means an attempt failed and the next one waits ('retrying').
      return record.attempts === 0 ? KIND_RANK.queued : KIND_RANK.retrying;
    case 'running':
      return KIND_RANK.started;
    case 'succeeded':
    case 'failed':
    case 'dead':
    case 'cancelled':
      return KIND_RANK[state];
    default:
      return assertNever(state);
  }
}

/** Whether `event` stands after the event `record` reflects: by run, then attempt, then rank. */
function isNewer(event: TaskEvent, record: TaskRecord): boolean {
  if (event.run !== record.run) return event.run > record.run;
  const attempt = eventAttempt(event);
  const recorded = recordAttempt(record);
  if (attempt !== recorded) return attempt > recorded;
  return KIND_RANK[event.kind] > recordRank(record);
}

/** The state a record is in after an event of each kind that moved it on. */
const STATE_AFTER: Readonly<Record<TaskEventKind, TaskState>> = {
  queued: 'queued',
  started: 'running',
  retrying: 'queued',
  succeeded: 'succeeded',
  failed: 'failed',
  dead: 'dead',
  cancelled: 'cancelled',
};

/**
 * Every field a stored record may have, each present (undefined where the record has none), so that
 * drafts share one shape; the fields the keeper adds when a status is read are not drafted.
 */
type RecordDraft = { [K in keyof StoredRecord]-?: StoredRecord[K] | (undefined extends StoredRecord[K] ? undefined : never) };
type StoredRecord = Omit<TaskRecord, 'blockedReason' | 'webhook'>;

/**
 * The record after applying `event` to `current` (undefined for a task not seen yet), or undefined
 * when the event changes nothing: a duplicate, or an older event that adds nothing the record lacks.
 * Never changes `current` (the SQLite store relies on it to compare JSON values by identity).
 */
export function applyEvent(current: TaskRecord | undefined, event: TaskEvent): TaskRecord | undefined {
  const draft = current === undefined || isNewer(event, current) ? advance(current, event) : draftOf(current);
  mergeCarriedFields(draft, event);
  if (current !== undefined && isUnchanged(draft, current)) return undefined;
  return recordOf(draft);
}

/** The draft once `event`, newer than anything `current` reflects, has moved the task on. */
function advance(current: TaskRecord | undefined, event: TaskEvent): RecordDraft {
  const { kind } = event;
  const ended = kind !== 'queued' && kind !== 'started';
  // The start of the attempt the record reflects survives an outcome of that same attempt only, and so
  // does its last progress (see apply-progress.ts).
  const sameAttempt = current !== undefined && current.run === event.run && current.attempts === event.attempt;
  const keptProgress = ended && sameAttempt && current.progressAt !== undefined;
  return {
    id: event.id,
    name: event.name,
    state: STATE_AFTER[kind],
    run: event.run,
    // A new run (or the first) starts clean: no attempts, result, error or finish from before.
    attempts: kind === 'queued' ? 0 : event.attempt,
    payload: current?.payload,
    options: current?.options ?? DEFAULT_TASK_OPTIONS,
    result: kind === 'succeeded' ? event.result : undefined,
    error: ended && kind !== 'succeeded' ? event.error : undefined,
    retryAt: kind === 'retrying' ? event.retryAt : undefined,
    createdAt: current?.createdAt ?? event.at,
    startedAt: kind === 'started' ? event.at : ended && sameAttempt ? current.startedAt : undefined,
    finishedAt: ended && kind !== 'retrying' ? event.at : undefined,
    updatedAt: current?.updatedAt ?? event.at,
    progress: keptProgress ? current.progress : undefined,
    progressAt: keptProgress ? current.progressAt : undefined,
  };
}

/** A draft holding exactly what `record` holds. */
function draftOf(record: TaskRecord): RecordDraft {
  const hasProgress = record.progressAt !== undefined;
  return {
    id: record.id,
    name: record.name,
    state: record.state,
    run: record.run,
    attempts: record.attempts,
    payload: record.payload,
    options: record.options,
    result: record.result,
    error: record.error,
    retryAt: record.retryAt,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    updatedAt: record.updatedAt,
    progress: hasProgress ? record.progress : undefined,
    progressAt: record.progressAt,
  };
}

/**
 * Merges what an event carries whether or not it is the newest, with rules that do not depend on
 * arrival order: the earliest creation time, the latest update time, the payload and options of the
 * current run's 'queued' event, and the latest start of the attempt the record reflects (from its
 * 'started' event, or the `startedAt` its outcome carries when the worker sent no 'started').
 */
function mergeCarriedFields(draft: RecordDraft, event: TaskEvent): void {
  draft.createdAt = Math.min(draft.createdAt, event.enqueuedAt ?? event.at);
  draft.updatedAt = Math.max(draft.updatedAt, event.at);
  if (event.kind === 'queued' && event.run >= draft.run) {
    if ('payload' in event) draft.payload = event.payload;
    if (event.options !== undefined) draft.options = event.options;
  }
  const startedAt = event.kind === 'started' ? event.at : event.startedAt;
  if (startedAt !== undefined && event.kind !== 'queued' && event.run === draft.run && event.attempt === draft.attempts) {
    draft.startedAt = Math.max(draft.startedAt ?? startedAt, startedAt);
  }
}

/**
 * Whether `a` and `b` are two objects (or arrays) holding equal JSON. Values of any other kind are equal
 * only when identical, which the callers check first: this spares them isDeepStrictEqual's own checks
 * for every string or number result (most of them).
 */
function equalObjects(a: unknown, b: unknown): boolean {
  return a !== b && typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && isDeepStrictEqual(a, b);
}

/**
 * Whether `draft` holds what `current` does. A JSON value equal to the current one but another object
 * (a redelivered event's payload) is replaced by the current object, so that a store comparing values
 * by identity (sqlite-task-writer.ts) does not write it again.
 */
function isUnchanged(draft: RecordDraft, current: TaskRecord): boolean {
  if (equalObjects(draft.payload, current.payload)) draft.payload = current.payload;
  if (equalObjects(draft.options, current.options)) draft.options = current.options;
  if (equalObjects(draft.result, current.result)) draft.result = current.result;
  if (equalObjects(draft.error, current.error)) draft.error = current.error;
  return (
    draft.state === current.state && draft.run === current.run && draft.attempts === current.attempts &&
    draft.id === current.id && draft.name === current.name &&
    draft.payload === current.payload && draft.options === current.options && draft.result === current.result && draft.error === current.error &&
    draft.retryAt === current.retryAt && draft.createdAt === current.createdAt && draft.startedAt === current.startedAt &&
    draft.finishedAt === current.finishedAt && draft.updatedAt === current.updatedAt &&
    draft.progressAt === current.progressAt && (draft.progressAt === undefined || draft.progress === current.progress)
  );
}

/** The record a draft describes: absent fields left out, the fields in the order fromTaskRow (task-rows.ts) uses too. */
function recordOf(draft: RecordDraft): TaskRecord {
  const record: TaskRecord = {
    id: draft.id,
    name: draft.name,
    state: draft.state,
    run: draft.run,
    attempts: draft.attempts,
    payload: draft.payload,
    options: draft.options,
    createdAt: draft.createdAt,
    updatedAt: draft.updatedAt,
  };
  if (draft.result !== undefined) record.result = draft.result;
  if (draft.error !== undefined) record.error = draft.error;
  if (draft.retryAt !== undefined) record.retryAt = draft.retryAt;
  if (draft.startedAt !== undefined) record.startedAt = draft.startedAt;
  if (draft.finishedAt !== undefined) record.finishedAt = draft.finishedAt;
  if (draft.progressAt !== undefined) {
    record.progress = draft.progress;
    record.progressAt = draft.progressAt;
  }
  return record;
}
