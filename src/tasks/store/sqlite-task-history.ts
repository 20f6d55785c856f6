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
 */
import type { TaskEvent } from '../protocol.js';

/** The text that starts an event's entry: a newline, then the entry's key fields. */
export function historyKey(event: TaskEvent): string {
  return `\n["${event.kind}",${event.run},${event.attempt},${event.at},`;
}

/** Whether the history text `history` holds the entry whose key is `key` (historyKey). */
export function historyHolds(history: string, key: string): boolean {
  return history.includes(key);
}

/** `history` with the entry of `event`, whose key is `key` (historyKey), added at the end. */
export function withHistoryEntry(history: string, key: string, event: TaskEvent): string {
  const entry = `${key}${eventBody(event)}]`;
  return history === '' ? entry : `${history},${entry}`;
}

/** The body of an event's entry: its JSON without the key fields and the id. */
export function eventBody(event: TaskEvent): string {
  const { id: _id, kind: _kind, run: _run, attempt: _attempt, at: _at, ...rest } = event;
  return JSON.stringify(rest);
}

type Entry = [kind: TaskEvent['kind'], run: number, attempt: number, at: number, body: Omit<TaskEvent, 'id' | 'kind' | 'run' | 'attempt' | 'at'>];

/**
 * The events a history text holds, in history order (historyOrder). An entry's body may be a whole
 * event (files of layout 1 stored those): its own copies of the key fields are the same values, and
 * come after the entry's, which gives the same event either way.
 */
export function eventsOfHistory(taskId: string, history: string): TaskEvent[] {
  const entries = JSON.parse(`[${history}]`) as Entry[];
  return entries.map(([kind, run, attempt, at, body]) => {
    const { protocol, name, ...rest } = body;
    return { protocol, kind, id: taskId, name, run, attempt, at, ...rest } as TaskEvent;
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
export function historyOrder(a: TaskEvent, b: TaskEvent): number {
  return a.at - b.at || tieRank(a.kind) - tieRank(b.kind) || a.run - b.run || a.attempt - b.attempt || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0);
}
