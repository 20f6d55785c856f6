/**
 * How the SQLite store keeps a task's history: in the task's own row, in the text column `history`,
 * one entry per distinct event, `["<kind>",<run>,<attempt>,<at>,<body>]` (the event's key, then its
 * JSON less the key fields and the id, which the row has). Every entry starts with a newline, and all
 * but the first are joined to the one before by a comma, so `[` + text + `]` is a JSON array of the
 * entries (a newline is JSON whitespace). JSON text never holds a raw newline (JSON.stringify escapes
 * one inside a string), so in the text a newline starts an entry and nothing else does: whether the
 * history holds an event is whether the text holds a newline followed by the event's key, found
 * without parsing anything.
 *
 * Why in the row: a table of events (layouts 1 and 2) took every event as a row of its own, keyed by
 * its task's id, so a task's outcome went into the middle of that B-tree, next to the 'queued' row
 * written seconds before, and each commit wrote (and split) history pages all over it; in the row, the
 * entry rides on the UPDATE the outcome makes anyway. The SQL alone (`npm run bench:sqlite-layout`):
 * 10.1 us of CPU per task against 12.7; the server in `npm run bench:tasks` (concurrency 8 and 32,
 * three runs alternated with layout 2): 30-39 us per task against 36-43.
 *
 * But every UPDATE rewrites the whole row, so a history that only grows (a task retried hundreds of
 * times, each retry with its error) would make each event cost more than the one before. So the row
 * takes an entry only while its history text stays within HISTORY_ROW_CHARS_MAX; an entry that does
 * not fit goes to the task_events table (sqlite-task-schema.ts) as a row of its own, and so does an
 * entry larger than the whole budget (a 'queued' event with a big payload). The text only ever grows,
 * so an entry that did not fit once never fits later: an event is in the text if the text holds its
 * key, and else in task_events if anywhere (where its key is the primary key). (The one entry whose
 * size can differ from one time to another, a 'queued' event's with or without the payload, goes in
 * only if it would have fitted in full: see below.)
 *
 * A 'queued' event carries the task's payload and options, which the row has in its own columns: an
 * entry of a 'queued' event whose payload and options are the row's leaves them out, and says so by a
 * sixth element (`["queued",1,1,<at>,{...},1]`); reading it puts the row's back. So a task's row holds
 * its payload once, not twice, and each submission costs the keeper one JSON encoding of them less (the
 * row's columns reuse the text the size check below made, reusingJsonTexts in task-rows.ts): `npm run
 * bench:store -- --store sqlite --tasks 40000 --lag 5000`, three alternated pairs of three rounds, 10.5-11.1
 * us of CPU per event against 11.4-12.9, about 2 us per task less.
 *
 * The row's payload and options change only with a later run's 'queued' event; when they do, the
 * entries that leave them out are first written out in full with the values they stood for
 * (materializedHistory), so that every such entry always means the row's current ones. Such an entry
 * goes in only if it would have fitted in full (fullEntryChars): an event's entry then goes in the text
 * or not whenever it comes, and writing it out in full later takes the text past HISTORY_ROW_CHARS_MAX
 * by at most that one payload and options, which fitted when they came.
 */
import type { TaskEvent } from '../protocol.js';
import { optionsJson } from '../options-json.js';
import { jsonText } from './task-rows.js';

/** Most characters of history text a row takes (sqlite-task-schema.ts: rows moved from older files may hold more). */
export const HISTORY_ROW_CHARS_MAX = 16 * 1024;

/** The text that starts an event's entry: a newline, then the entry's key fields. */
export function historyKey(event: TaskEvent): string {
  return `\n["${event.kind}",${event.run},${event.attempt},${event.at},`;
}

/** Whether the history text `history` holds the entry whose key is `key` (historyKey). */
export function historyHolds(history: string, key: string): boolean {
  return history.includes(key);
}

/** The entry of `event`, whose key is `key` (historyKey). */
export function historyEntry(key: string, event: TaskEvent): string {
  return `${key}${eventBody(event)}]`;
}

/** What ends an entry that leaves out its event's payload and options (the row's): a sixth element. */
const ROW_PAYLOAD_MARK = ',1]';

/** The entry of `event`, a 'queued' event whose payload and options are the row's, without them. */
export function rowPayloadEntry(key: string, event: TaskEvent): string {
  const { id: _id, kind: _kind, run: _run, attempt: _attempt, at: _at, payload: _payload, options: _options, ...rest } = event;
  return `${key}${JSON.stringify(rest)}${ROW_PAYLOAD_MARK}`;
}

/**
 * Characters of the entry historyEntry would make for `event`, whose entry without payload and options
 * is `slimEntry` (rowPayloadEntry): `"payload":<text>,` and `"options":<text>,` more in the body, and `]`
 * instead of the mark's `,1]`.
 */
export function fullEntryChars(slimEntry: string, event: TaskEvent): number {
  return slimEntry.length - ROW_PAYLOAD_MARK.length + 1 + 2 * '"payload":,'.length + jsonText(event.payload).length + (event.options === undefined ? 0 : optionsJson(event.options).length);
}

/** Whether an entry of `chars` characters would fit at the end of `history` (withHistoryEntry). */
export function entryFits(history: string, chars: number): boolean {
  return (history === '' ? chars : history.length + 1 + chars) <= HISTORY_ROW_CHARS_MAX;
}

/** Whether `history` may hold an entry that leaves out the row's payload and options (it surely does not when false). */
function mayHoldRowPayloadEntry(history: string): boolean {
  return history.includes(ROW_PAYLOAD_MARK);
}

/**
 * `history` with every entry that leaves out the row's payload and options written out in full with
 * `payload` and `options` (the values they stood for), before the row's change; entries keep their order.
 */
export function materializedHistory(history: string, payload: unknown, options: unknown): string {
  if (!mayHoldRowPayloadEntry(history)) return history;
  // Entries start with a newline and nothing else holds one: the text splits into them exactly.
  return history
    .split(',\n')
    .map((text, index) => {
      const entry = index === 0 ? text : `\n${text}`;
      if (!entry.endsWith(ROW_PAYLOAD_MARK)) return entry;
      const [kind, run, attempt, at, body] = JSON.parse(entry) as Entry;
      return `\n${JSON.stringify([kind, run, attempt, at, { ...body, payload, options }])}`;
    })
    .join(',');
}

/** `history` with `entry` added at the end, or undefined when the text would pass HISTORY_ROW_CHARS_MAX. */
export function withHistoryEntry(history: string, entry: string): string | undefined {
  return entryFits(history, entry.length) ? appendEntry(history, entry) : undefined;
}

/** `history` with `entry` added at the end, whatever its size. */
export function appendEntry(history: string, entry: string): string {
  return history === '' ? entry : `${history},${entry}`;
}

/** The body of an event's entry: its JSON without the key fields and the id. */
export function eventBody(event: TaskEvent): string {
  const { id: _id, kind: _kind, run: _run, attempt: _attempt, at: _at, ...rest } = event;
  return JSON.stringify(rest);
}

/** A row of task_events: an event that did not fit in its task's row (or came from an older file's table). */
export interface TaskEventRow {
  run: number;
  attempt: number;
  kind: string;
  at: number;
  body: string;
}

type Entry = [kind: TaskEvent['kind'], run: number, attempt: number, at: number, body: Omit<TaskEvent, 'id' | 'kind' | 'run' | 'attempt' | 'at'>, rowPayload?: 1];

/** The payload and options a task's row holds (its columns, parsed), for the entries that leave them out. */
export interface RowPayload {
  payload: unknown;
  options: unknown;
}

/**
 * The events of a task's history: those its row's text holds and the rows of task_events, in history
 * order (historyOrder); `row` gives the payload and options of the entries that leave them out. An
 * entry's body may be a whole event (files of layout 1 stored those): its own copies of the key fields
 * are the same values, and come after the entry's, which gives the same event either way.
 */
export function eventsOfHistory(taskId: string, history: string, rows: readonly TaskEventRow[], row: RowPayload): TaskEvent[] {
  const entries = JSON.parse(`[${history}]`) as Entry[];
  for (const eventRow of rows) entries.push([eventRow.kind as TaskEvent['kind'], eventRow.run, eventRow.attempt, eventRow.at, JSON.parse(eventRow.body) as Entry[4]]);
  return entries.map(([kind, run, attempt, at, body, rowPayload]) => {
    const { protocol, name, ...rest } = body;
    const event = { protocol, kind, id: taskId, name, run, attempt, at, ...rest } as TaskEvent;
    return rowPayload === undefined ? event : ({ ...event, payload: row.payload, options: row.options } as TaskEvent);
  }).sort(historyOrder);
}

/** Rank of a kind among events of one millisecond: queued, then started, then the rest. */
function tieRank(kind: TaskEvent['kind']): number {
  return kind === 'queued' ? 0 : kind === 'started' ? 1 : 2;
}

/**
 * The order of a task's history: by time, and within one millisecond by the order of states in an
 * attempt (a fast handler's started and succeeded events often share a timestamp), then by run,
 * attempt and kind; the PostgreSQL store lists events in the same order (HISTORY_ORDER in task-rows.ts).
 */
function historyOrder(a: TaskEvent, b: TaskEvent): number {
  return a.at - b.at || tieRank(a.kind) - tieRank(b.kind) || a.run - b.run || a.attempt - b.attempt || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0);
}
