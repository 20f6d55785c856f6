/**
 * How the SQL result stores lay a task record out in a table row (JSON text for the values, plain
 * numbers for counters and times), and the paging rules of a listing, shared so that every store
 * stores and returns exactly the same thing.
 */
import type { TaskEvent, TaskState } from '../protocol.js';
import type { TaskQuery, TaskRecord } from './result-store.js';
import { optionsJson } from '../options-json.js';

/** Columns of the tasks table, in the order the stores write them. */
export const TASK_COLUMNS = [
  'id',
  'name',
  'state',
  'run',
  'attempts',
  'payload',
  'options',
  'result',
  'error',
  'retry_at',
  'created_at',
  'started_at',
  'finished_at',
  'updated_at',
  'progress',
  'progress_at',
] as const;

/** A row of the tasks table: JSON text (or NULL when absent) for values, numbers for times. */
export interface TaskRow {
  id: string;
  name: string;
  state: string;
  run: number;
  attempts: number;
  payload: string | null;
  options: string;
  result: string | null;
  error: string | null;
  retry_at: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
  progress: string | null;
  progress_at: number | null;
}

/** Listing size when a query names none. */
export const TASK_LIST_LIMIT_DEFAULT = 100;

/** Most records one listing returns, whatever the query asks for. */
export const TASK_LIST_LIMIT_MAX = 1000;

/** JSON texts of objects while a SQLite round runs (reusingJsonTexts), by object. */
let roundJsonTexts: WeakMap<object, string> | undefined;

/**
 * Runs `round` (synchronous: nothing else runs meanwhile) with the JSON text of each object made once:
 * a payload's text gives both the size of its history entry and its column's value.
 */
export function reusingJsonTexts<T>(round: () => T): T {
  roundJsonTexts = new WeakMap();
  try {
    return round();
  } finally {
    roundJsonTexts = undefined;
  }
}

/**
 * JSON text of a JSON value (not undefined), kept inside reusingJsonTexts for the row's column to reuse
 * (the history's size check asks for a payload's text; nothing else is kept; options have optionsJson).
 */
export function jsonText(value: unknown): string {
  const text = JSON.stringify(value);
  if (roundJsonTexts !== undefined && typeof value === 'object' && value !== null) roundJsonTexts.set(value, text);
  return text;
}

/** JSON text of a value, or NULL for undefined (which JSON cannot hold); the text jsonText kept in this round, if any. */
function toJson(value: unknown): string | null {
  if (value === undefined) return null;
  return (typeof value === 'object' && value !== null ? roundJsonTexts?.get(value) : undefined) ?? JSON.stringify(value);
}

/** The row a record is stored as. */
export function toTaskRow(record: TaskRecord): TaskRow {
  return {
    id: record.id,
    name: record.name,
    state: record.state,
    run: record.run,
    attempts: record.attempts,
    payload: toJson(record.payload),
    options: optionsJson(record.options),
    result: toJson(record.result),
    error: toJson(record.error),
    retry_at: record.retryAt ?? null,
    created_at: record.createdAt,
    started_at: record.startedAt ?? null,
    finished_at: record.finishedAt ?? null,
    updated_at: record.updatedAt,
    progress: progressJson(record),
    progress_at: record.progressAt ?? null,
  };
}

/** A value SQLite binds: text, a number or NULL. */
export type SqlValue = string | number | null;

/** A column of the tasks table other than id, as a record holds it. */
interface TaskColumnCodec {
  /**
   * Whether `after` holds another value than `before` here. JSON values are compared by identity: the
   * shared transitions (applyEvent, applyProgress) never change a record they are given, so a value
   * they carried over unchanged is the very same object.
   */
  changed(before: TaskRecord, after: TaskRecord): boolean;
  /** The column's value. */
  value(record: TaskRecord): SqlValue;
}

/** The columns of the tasks table except id, in TASK_COLUMNS order. */
export type UpdatableTaskColumn = Exclude<(typeof TASK_COLUMNS)[number], 'id'>;

/** The progress column: the reported value as JSON (null when the report had none), only once one was reported. */
function progressJson(record: TaskRecord): string | null {
  return record.progressAt === undefined ? null : toJson(record.progress ?? null);
}

/**
 * How each column but id is compared and written, in TASK_COLUMNS order (toTaskRow lays out the same
 * values). Each column has functions of its own, rather than ones made for a field name, so that every
 * property access reads one named field: they run for every column at every event.
 */
export const UPDATABLE_TASK_COLUMNS: readonly (readonly [UpdatableTaskColumn, TaskColumnCodec])[] = [
  ['name', { changed: (before, after) => before.name !== after.name, value: (record) => record.name }],
  ['state', { changed: (before, after) => before.state !== after.state, value: (record) => record.state }],
  ['run', { changed: (before, after) => before.run !== after.run, value: (record) => record.run }],
  ['attempts', { changed: (before, after) => before.attempts !== after.attempts, value: (record) => record.attempts }],
  ['payload', { changed: (before, after) => before.payload !== after.payload, value: (record) => toJson(record.payload) }],
  ['options', { changed: (before, after) => before.options !== after.options, value: (record) => optionsJson(record.options) }],
  ['result', { changed: (before, after) => before.result !== after.result, value: (record) => toJson(record.result) }],
  ['error', { changed: (before, after) => before.error !== after.error, value: (record) => toJson(record.error) }],
  ['retry_at', { changed: (before, after) => before.retryAt !== after.retryAt, value: (record) => record.retryAt ?? null }],
  ['created_at', { changed: (before, after) => before.createdAt !== after.createdAt, value: (record) => record.createdAt }],
  ['started_at', { changed: (before, after) => before.startedAt !== after.startedAt, value: (record) => record.startedAt ?? null }],
  ['finished_at', { changed: (before, after) => before.finishedAt !== after.finishedAt, value: (record) => record.finishedAt ?? null }],
  ['updated_at', { changed: (before, after) => before.updatedAt !== after.updatedAt, value: (record) => record.updatedAt }],
  ['progress', { changed: (before, after) => before.progress !== after.progress || before.progressAt !== after.progressAt, value: progressJson }],
  ['progress_at', { changed: (before, after) => before.progressAt !== after.progressAt, value: (record) => record.progressAt ?? null }],
];

/** The values of a record's row in TASK_COLUMNS order, to bind positionally. */
export function taskRowValues(record: TaskRecord): SqlValue[] {
  const values: SqlValue[] = [record.id];
  for (const [, codec] of UPDATABLE_TASK_COLUMNS) values.push(codec.value(record));
  return values;
}

/** The record a row holds; absent optional fields are left out, as applyEvent leaves them out. */
export function fromTaskRow(row: TaskRow): TaskRecord {
  const record: TaskRecord = {
    id: row.id,
    name: row.name,
    state: row.state as TaskState,
    run: row.run,
    attempts: row.attempts,
    payload: row.payload === null ? undefined : JSON.parse(row.payload),
    options: JSON.parse(row.options),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.result !== null) record.result = JSON.parse(row.result);
  if (row.error !== null) record.error = JSON.parse(row.error);
  if (row.retry_at !== null) record.retryAt = row.retry_at;
  if (row.started_at !== null) record.startedAt = row.started_at;
  if (row.finished_at !== null) record.finishedAt = row.finished_at;
  if (row.progress_at !== null) {
    record.progress = row.progress === null ? null : JSON.parse(row.progress);
    record.progressAt = row.progress_at;
  }
  return record;
}

/** Characters of a row's text columns (its size in memory, roughly, once parsed). */
export function taskRowChars(row: TaskRow): number {
  return row.id.length + row.name.length + row.state.length + row.options.length +
    (row.payload?.length ?? 0) + (row.result?.length ?? 0) + (row.error?.length ?? 0) + (row.progress?.length ?? 0);
}

/** The columns of an event that identify it: a redelivered copy of an event is recorded once. */
export function eventKey(event: TaskEvent): [taskId: string, run: number, attempt: number, kind: string, at: number] {
  return [event.id, event.run, event.attempt, event.kind, event.at];
}

/** A listing's limit and offset: whole numbers, the limit capped at TASK_LIST_LIMIT_MAX. */
export function listPaging(query: TaskQuery): { limit: number; offset: number } {
  const limit = Math.min(Math.max(0, Math.floor(query.limit ?? TASK_LIST_LIMIT_DEFAULT)), TASK_LIST_LIMIT_MAX);
  const offset = Math.max(0, Math.floor(query.offset ?? 0));
  return { limit: Number.isNaN(limit) ? TASK_LIST_LIMIT_DEFAULT : limit, offset: Number.isNaN(offset) ? 0 : offset };
}

/**
 * SQL ordering of a task's history: by time, and within one millisecond by the order of states in an
 * attempt (a fast handler's started and succeeded events often share a timestamp), then by run,
 * attempt and kind, so that every store and keeper lists events that tie in the same order whatever
 * order they arrived in.
 */
export const HISTORY_ORDER = "at, CASE kind WHEN 'queued' THEN 0 WHEN 'started' THEN 1 ELSE 2 END, run, attempt, kind";
