/**
 * The embedded result store: one SQLite file (better-sqlite3) in the data directory, in WAL mode.
 *
 * Durability: synchronous=FULL by default, so a commit is on disk (the WAL is fsynced) before apply()
 * resolves. The keeper acknowledges an event to the broker only after apply() resolved, so with
 * NORMAL a power loss could drop results whose events the broker had already forgotten. To keep the
 * cost of FULL (one fsync per commit) off the hot path, applies made in one event-loop turn are
 * committed together in one transaction (each task row written once per batch), much as the broker's message
 * store groups its fsyncs: throughput grows with load instead of being capped by fsync latency. A round
 * starts at least commitIntervalMs after the previous one (COMMIT_ROUND_SPACING_MS by default): under a
 * steady trickle of events (a worker at concurrency 1) rounds of one or two events would each write a
 * dozen WAL pages and fsync them, so waiting a few milliseconds for more saves most of that disk and
 * kernel work; an apply after a quiet spell still commits at once.
 *
 * Layout (sqlite-task-schema.ts, version 4 in PRAGMA user_version): a tasks row per task, which also
 * holds the task's history as text, an entry per distinct event, up to a size; the entries past it go
 * to the task_events table (sqlite-task-history.ts). A file of an older version is upgraded in place
 * when it is opened.
 *
 * CPU per event: a round writes only the columns of a task row that changed (sqlite-task-writer.ts)
 * and appends the history entries of its new events, and the records of unfinished tasks stay in memory between rounds (recent-records.ts), so a task's
 * later events neither read nor parse its row again; a task's first event does not look for a row
 * either, it inserts one unless one exists. Those records are shared, not copied, between
 * rounds and with the transitions (which never change a record they are given); a record the store
 * keeps goes out to a caller as a copy. A new task's 'queued' apply that the caller lets wait (the
 * keeper's, from a busy submitter's batch) is held back for up to HOLD_MS and committed with the task's
 * next event, so that its row is written once (held-applies.ts); reads commit what is held first.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { assert } from '../../util/assert.js';
import { TERMINAL_STATES, type TaskEvent } from '../protocol.js';
import { applyEvent } from './apply-event.js';
import { applyProgress } from './apply-progress.js';
import type { TaskProgressEvent } from '../task-progress.js';
import type { ApplyListener, ApplyOptions, ResultStore, TaskQuery, TaskRecord } from './result-store.js';
import { SqliteScheduling } from './sqlite-scheduling.js';
import { createTaskSchema } from './sqlite-task-schema.js';
import {
  eventBody,
  eventsOfHistory,
  appendEntry,
  entryFits,
  fullEntryChars,
  historyEntry,
  historyHolds,
  historyKey,
  materializedHistory,
  rowPayloadEntry,
  withHistoryEntry,
  type TaskEventRow,
} from './sqlite-task-history.js';
import { RecentRecords } from './recent-records.js';
import { HOLD_MS, HeldApplies } from './held-applies.js';
import { SqliteTaskWriter } from './sqlite-task-writer.js';
import { TASK_COLUMNS, fromTaskRow, listPaging, reusingJsonTexts, taskRowChars, type TaskRow } from './task-rows.js';
import { SQLITE_DELETE_FINISHED_DELIVERIES, SqliteWebhookDeliveries } from './sqlite-webhooks.js';
import { SQLITE_FINISHED_TASKS } from './sqlite-retention.js';

/** Most events committed in one transaction; more wait for the next round. */
const APPLY_BATCH_MAX = 1000;

/**
 * Least time from the start of one commit round to the start of the next, by default (commitIntervalMs).
 * Under load, rounds back to back would each commit what arrived during the previous one's fsync; spaced a little further apart,
 * each commits more events, and the cost of a commit (the WAL write of every page it changed, the
 * fsync, the hot index pages each round writes again) is shared by more of them (keeper thread at
 * 100 000 queued tasks: about 41 -> 38 us of CPU per task). An apply after a quiet spell still commits
 * in the next event-loop turn; under load, an apply waits at most this long more for its commit (its
 * ack, and the record's visibility to get and list); 16 ms saved nothing more.
 */
const COMMIT_ROUND_SPACING_MS = 8;

/**
 * Applies waiting that start a round at once, spacing or not: waiting serves to gather a batch, and
 * with this many there is one. Without it the spacing would cap throughput at the applies a caller
 * keeps in flight per spacing (the keeper's prefetch of 500 per 8 ms).
 */
const ROUND_WITHOUT_WAIT_APPLIES = 400;

/**
 * Records of unfinished tasks kept between rounds (RecentRecords): enough for every task in flight in
 * a busy server, and a bound on the memory they take (text of the rows, whatever their number).
 */
const RECENT_RECORD_LIMITS = { records: 10_000, chars: 16 * 1024 * 1024 };

/**
 * Page size of a new file: 16 KB instead of SQLite's 4 KB. Each commit writes every page it changed to
 * the WAL (a write per page) and the checkpoint writes them again; a commit round changes a few dozen
 * pages at the end of each B-tree, so fewer, larger pages mean fewer writes for the same rows (about 10%
 * less CPU per event in `npm run bench:store -- --store sqlite --ids ordered --tasks 60000 --lag 5000`:
 * 10.7 against 11.9 us; 64 KB gave 11.2).
 */
const PAGE_SIZE = 16_384;

/** What enableWal waits on between tries (nothing ever wakes it: each wait runs its full time). */
const WAL_RETRY_PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Puts the file in WAL mode. Connections opening a new file at the same moment (two keepers starting
 * together) race to switch it, and SQLite answers SQLITE_BUSY at once to one that needs the switch while
 * another holds the file, without waiting on the busy timeout; so the switch is tried again, a few
 * milliseconds apart, until `timeoutMs` has passed. A file already in WAL mode needs no switch.
 */
function enableWal(db: Database.Database, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw error;
      Atomics.wait(WAL_RETRY_PAUSE, 0, 0, 5);
    }
  }
}

/** How hard a commit waits for the disk: FULL (the default) survives power loss, NORMAL only a crash. */
export type SqliteSynchronous = 'FULL' | 'NORMAL';

/** Settings of a SQLite result store. */
export interface SqliteResultStoreOptions {
  synchronous?: SqliteSynchronous;
  /** How long a commit waits for another process holding the write lock (default 5000). */
  busyTimeoutMs?: number;
  /** Least time from one commit round's start to the next one's under load (default 8 ms; 0: every event-loop turn). */
  commitIntervalMs?: number;
  /** How long an apply that may wait is held for its task's next event (default HOLD_MS; 0: none is held). */
  holdMs?: number;
}

/** A task a batch of applies touches: its record and history as the row holds them, and as the batch leaves them. */
interface TaskInBatch {
  stored: TaskRecord | undefined;
  /** Characters of text in the row (RecentRecords' measure), at least. */
  chars: number;
  record: TaskRecord | undefined;
  /** The row's history text with the entries of the batch's new events added at the end. */
  history: string;
  /** Length of the history text the row holds now: unless historyRewritten, `history` past it is what the batch adds. */
  storedHistoryLength: number;
  /** True when the batch changed the history text before storedHistoryLength too (materializedHistory): the row takes it whole. */
  historyRewritten: boolean;
  /** The batch's new events that did not fit in the row's history, for task_events (duplicates are ignored there). */
  overflow: TaskEvent[] | undefined;
  /**
   * Set while the batch assumes, without having read it, that the task has no row yet (its first event
   * is 'queued': the SELECT that would say so is skipped): the applies made on that assumption, to be
   * made again over the row should the INSERT find one (a redelivery, a new run of a known task).
   */
  assumedNew: PendingApply[] | undefined;
}

/** How an apply's caller is told of its end: ApplyListener, where a progress report may leave no record. */
interface ApplyDone {
  applied(record: TaskRecord | undefined, event: TaskEvent | TaskProgressEvent, context: unknown): void;
  refused(error: unknown, event: TaskEvent | TaskProgressEvent, context: unknown): void;
}

/** The resolve and reject of an apply that returned a promise. */
interface PromiseSettlers {
  resolve(record: TaskRecord | undefined): void;
  reject(error: unknown): void;
}

/** Settles the promise of apply() or recordProgress(), whose context is its PromiseSettlers. */
const SETTLE_PROMISE: ApplyDone = {
  applied: (record, _event, context) => (context as PromiseSettlers).resolve(record),
  refused: (error, _event, context) => (context as PromiseSettlers).reject(error),
};

interface PendingApply {
  /** A state event, or a progress report (which may leave an unknown task without a record). */
  event: TaskEvent | TaskProgressEvent;
  /** Told once the apply is committed or refused, with `context`. */
  done: ApplyDone;
  context: unknown;
  /** The record after the apply (set by the transaction, handed out once it committed); undefined for a progress report of an unknown task only. */
  record: TaskRecord | undefined;
  /** The caller lets it wait to be committed with its task's next event (ApplyOptions.mayWait; held-applies.ts). */
  mayWait: boolean;
  /** When its hold ends, once HeldApplies holds it. */
  heldUntil: number;
}

/** A row of the tasks table with the task's history text. */
type TaskRowWithHistory = TaskRow & { history: string };

/** What a batch knows of a task from its row, before applying anything. */
function storedTask(row: TaskRowWithHistory): Omit<TaskInBatch, 'assumedNew'> {
  const stored = fromTaskRow(row);
  return {
    stored, record: stored, chars: taskRowChars(row) + row.history.length, history: row.history, storedHistoryLength: row.history.length,
    historyRewritten: false, overflow: undefined,
  };
}

/** A task the batch takes to have no row (`assumedNew`: without having read it; see TaskInBatch). */
function taskWithoutRow(assumedNew: PendingApply[] | undefined): TaskInBatch {
  return { stored: undefined, chars: 0, record: undefined, history: '', storedHistoryLength: 0, historyRewritten: false, overflow: undefined, assumedNew };
}

/** A result store in a SQLite file (or ':memory:'). */
export class SqliteResultStore implements ResultStore {
  readonly #db: Database.Database;
  readonly #selectTask: Database.Statement<[string], TaskRowWithHistory>;
  readonly #selectRecord: Database.Statement<[string], TaskRow>;
  readonly #taskWriter: SqliteTaskWriter;
  readonly #selectHistoryRows: Database.Statement<[string], TaskEventRow>;
  readonly #insertEvent: Database.Statement<[string, number, number, string, number, string]>;
  readonly #selectDataVersion: Database.Statement<[], number>;
  readonly #applyBatch: Database.Transaction<(batch: readonly PendingApply[]) => Map<string, TaskInBatch>>;
  readonly #recent = new RecentRecords(RECENT_RECORD_LIMITS);
  /** PRAGMA data_version when this store last wrote: another value means another connection has written since. */
  #dataVersion: number | undefined;
  readonly #listStatements = new Map<string, Database.Statement<Record<string, string | number>, TaskRow>>();
  #pending: PendingApply[] = [];
  /** 'queued' applies held back for their task's next event (held-applies.ts); undefined when holding is off. */
  readonly #held: HeldApplies<PendingApply> | undefined;
  /** The timer that commits held applies whose time is up when no round does. */
  #heldTimer: NodeJS.Timeout | undefined;
  readonly #commitDueHeld = (): void => {
    this.#heldTimer = undefined;
    if (!this.#roundScheduled) this.#commitRound();
    else this.#armHeldTimer();
  };
  readonly #isKnown = (id: string): boolean => this.#recent.get(id) !== undefined;
  /** True while #commitAll commits everything: nothing is held meanwhile. */
  #committingAll = false;
  #roundScheduled = false;
  readonly #commitIntervalMs: number;
  /** performance.now() when the last commit round started. */
  #lastRoundAt = Number.NEGATIVE_INFINITY;
  readonly #runRound = (): void => this.#commitRound();
  /** The timer of a round scheduled after the spacing, if one is. */
  #roundTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Webhook deliveries, in the same file. */
  readonly webhooks: SqliteWebhookDeliveries;
  /** Idempotency keys and schedules (SchedulingStore), in the same database. */
  readonly scheduling: SqliteScheduling;

  /** Opens (creating if needed) the store at `path`, a file path or ':memory:'. */
  constructor(path: string, options: SqliteResultStoreOptions = {}) {
    if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
    this.#commitIntervalMs = options.commitIntervalMs ?? COMMIT_ROUND_SPACING_MS;
    const holdMs = options.holdMs ?? HOLD_MS;
    this.#held = holdMs > 0 ? new HeldApplies(holdMs) : undefined;
    // Only a file not yet written takes it (an existing one keeps its own; changing it needs a VACUUM).
    this.#db.pragma(`page_size = ${PAGE_SIZE}`);
    enableWal(this.#db, options.busyTimeoutMs ?? 5000);
    this.#db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    createTaskSchema(this.#db);
    this.#selectTask = this.#db.prepare(`SELECT ${TASK_COLUMNS.join(', ')}, history FROM tasks WHERE id = ?`);
    this.#selectRecord = this.#db.prepare(`SELECT ${TASK_COLUMNS.join(', ')} FROM tasks WHERE id = ?`);
    this.#taskWriter = new SqliteTaskWriter(this.#db);
    this.#selectHistoryRows = this.#db.prepare('SELECT run, attempt, kind, at, body FROM task_events WHERE task_id = ?');
    this.#insertEvent = this.#db.prepare('INSERT OR IGNORE INTO task_events (task_id, run, attempt, kind, at, body) VALUES (?, ?, ?, ?, ?, ?)');
    this.#selectDataVersion = this.#db.prepare<[], number>('PRAGMA data_version').pluck();
    this.#applyBatch = this.#db.transaction((batch: readonly PendingApply[]) => reusingJsonTexts(() => this.#applyInTransaction(batch)));
    this.webhooks = new SqliteWebhookDeliveries(this.#db);
    this.scheduling = new SqliteScheduling(this.#db);
  }

  /** Applies `event` (see ResultStore.apply); resolves once the change is committed. */
  apply(event: TaskEvent, options?: ApplyOptions): Promise<TaskRecord> {
    // A state event always leaves a record: the transaction asserts it.
    return this.#promised(event, options?.mayWait === true) as Promise<TaskRecord>;
  }

  /** Applies `event` as apply() does, telling `listener` (see ResultStore.applyThen). */
  applyThen<C>(event: TaskEvent, options: ApplyOptions | undefined, listener: ApplyListener<C>, context: C): void {
    if (this.#closed) {
      queueMicrotask(() => listener.refused(new Error('task result store is closed'), event, context));
      return;
    }
    // A state event always leaves a record (the transaction asserts it), so `applied` gets one.
    this.#enqueue(event, options?.mayWait === true, listener as ApplyDone, context);
  }

  /** Records a progress report (see ResultStore.recordProgress), in the same commit rounds as events. */
  recordProgress(event: TaskProgressEvent): Promise<TaskRecord | undefined> {
    return this.#promised(event, false);
  }

  #promised(event: TaskEvent | TaskProgressEvent, mayWait: boolean): Promise<TaskRecord | undefined> {
    if (this.#closed) return Promise.reject(new Error('task result store is closed'));
    return new Promise((resolve, reject) => this.#enqueue(event, mayWait, SETTLE_PROMISE, { resolve, reject } satisfies PromiseSettlers));
  }

  #enqueue(event: TaskEvent | TaskProgressEvent, mayWait: boolean, done: ApplyDone, context: unknown): void {
    this.#pending.push({ event, done, context, record: undefined, mayWait, heldUntil: 0 });
    if (!this.#roundScheduled) this.#scheduleRound();
    else if (this.#roundTimer !== undefined && this.#pending.length >= ROUND_WITHOUT_WAIT_APPLIES) this.#roundNow();
  }

  /** Runs the next commit round in the next event-loop turn, or once commitIntervalMs after the last one started. */
  #scheduleRound(): void {
    this.#roundScheduled = true;
    const waitMs = this.#lastRoundAt + this.#commitIntervalMs - performance.now();
    if (waitMs > 0 && this.#pending.length < ROUND_WITHOUT_WAIT_APPLIES) this.#roundTimer = setTimeout(this.#runRound, waitMs);
    else setImmediate(this.#runRound);
  }

  /** Brings a round waiting for the spacing forward to the next turn. */
  #roundNow(): void {
    clearTimeout(this.#roundTimer);
    this.#roundTimer = undefined;
    setImmediate(this.#runRound);
  }

  /** Commits the pending applies, up to APPLY_BATCH_MAX, in one transaction; schedules the rest. */
  #commitRound(): void {
    clearTimeout(this.#roundTimer);
    this.#roundTimer = undefined;
    if (this.#pending.length === 0 && (this.#held?.size ?? 0) === 0) {
      this.#roundScheduled = false;
      return;
    }
    const now = performance.now();
    this.#lastRoundAt = now;
    const taken = this.#pending.splice(0, APPLY_BATCH_MAX);
    const batch = this.#held === undefined || this.#committingAll ? taken : this.#held.sift(taken, now, this.#isKnown);
    this.#roundScheduled = false;
    if (this.#pending.length > 0) this.#scheduleRound();
    this.#armHeldTimer();
    if (batch.length === 0) return;
    let tasks: Map<string, TaskInBatch>;
    try {
      tasks = this.#applyBatch.immediate(batch);
    } catch (error) {
      this.#recent.clear();
      for (const pending of batch) pending.done.refused(error, pending.event, pending.context);
      return;
    }
    this.#rememberCommitted(tasks);
    for (const pending of batch) pending.done.applied(this.#handOut(pending.record), pending.event, pending.context);
  }

  /** Makes sure held applies are committed once their time is up, should no round come before. */
  #armHeldTimer(): void {
    const due = this.#held?.nextDue();
    if (due === undefined || this.#heldTimer !== undefined) return;
    this.#heldTimer = setTimeout(this.#commitDueHeld, Math.max(0, due - performance.now()) + 1);
  }

  /**
   * Commits the held applies now, with the pending ones, holding none: a read then sees every event held
   * (as before holding, it need not see the applies of the last few milliseconds, which no round took yet).
   */
  #commitHeld(): void {
    if ((this.#held?.size ?? 0) > 0) this.#commitAll();
  }

  /** Commits every held and pending apply now, holding none. */
  #commitAll(): void {
    this.#pending.unshift(...(this.#held?.takeAll() ?? []));
    this.#committingAll = true;
    try {
      while (this.#pending.length > 0) this.#commitRound();
    } finally {
      this.#committingAll = false;
    }
  }

  /**
   * Applies a batch of events; the caller holds the write lock (an open transaction). Each task's row is
   * read at most once and written once per batch, however many of its events the batch holds (a busy
   * keeper sees a task's queued, started and succeeded events together), and only the columns that
   * changed are written. A task whose first event is 'queued' is assumed new, unless kept, so a new
   * task costs one INSERT and no SELECT (#writeAssumedNew). A statement that fails fails the whole transaction, and every apply of the batch
   * rejects (the keeper then requeues the events).
   */
  #applyInTransaction(batch: readonly PendingApply[]): Map<string, TaskInBatch> {
    this.#forgetRecentIfOthersWrote();
    const tasks = new Map<string, TaskInBatch>();
    for (const pending of batch) {
      const { event } = pending;
      let task = tasks.get(event.id);
      if (task === undefined) {
        task = this.#taskInBatch(event);
        tasks.set(event.id, task);
      }
      task.assumedNew?.push(pending);
      this.#applyTo(task, pending);
    }
    for (const task of tasks.values()) {
      if (task.assumedNew !== undefined) this.#writeAssumedNew(task);
      else this.#write(task);
    }
    return tasks;
  }

  /** Writes what the batch changed of a task whose row the batch read or kept (or knows to be absent). */
  #write(task: TaskInBatch): void {
    const historyAdded = task.history.length > task.storedHistoryLength;
    if (task.record !== undefined && task.historyRewritten) {
      // The whole history replaces the one counted in `chars`.
      task.chars += this.#taskWriter.write(task.stored, task.record, task.history, 'whole') - task.storedHistoryLength;
    } else if (task.record !== undefined && (task.record !== task.stored || historyAdded)) {
      task.chars += this.#taskWriter.write(task.stored, task.record, historyAdded ? task.history.slice(task.storedHistoryLength) : '');
    }
    task.historyRewritten = false;
    this.#writeOverflow(task);
  }

  /** Inserts the batch's events of `task` that did not fit in its row into task_events. */
  #writeOverflow(task: TaskInBatch): void {
    if (task.overflow === undefined) return;
    for (const event of task.overflow) this.#insertEvent.run(event.id, event.run, event.attempt, event.kind, event.at, eventBody(event));
    task.overflow = undefined;
  }

  /**
   * Applies one event or progress report to the record the batch holds for its task, and adds a state
   * event the history lacks to it (an older event that changes no field still joins the history).
   */
  #applyTo(task: TaskInBatch, pending: PendingApply): void {
    const { event } = pending;
    if (event.kind === 'progress') {
      // A progress report changes only the progress of a known task, and is not kept in the history.
      task.record = applyProgress(task.record, event) ?? task.record;
    } else {
      const before = task.record;
      task.record = applyEvent(task.record, event) ?? task.record;
      assert(task.record !== undefined, 'applyEvent left an unknown task without a record');
      if (before !== undefined && (task.record.payload !== before.payload || task.record.options !== before.options)) {
        this.#materializeHistory(task, before);
      }
      const key = historyKey(event);
      if (!historyHolds(task.history, key)) {
        const history = this.#withEntryOf(task.history, key, event, task.record);
        if (history !== undefined) task.history = history;
        else (task.overflow ??= []).push(event);
      }
    }
    pending.record = task.record;
  }

  /**
   * `history` with the entry of `event` (key `key`) added, in a task whose record is now `record`, or
   * undefined when it does not fit (task_events takes it). The entry leaves the payload and options out
   * when the event is a 'queued' one whose payload and options the row holds; it goes in only if it
   * would have fitted with them, as any other entry (sqlite-task-history.ts).
   */
  #withEntryOf(history: string, key: string, event: TaskEvent, record: TaskRecord): string | undefined {
    const rowHolds = event.kind === 'queued' && event.payload !== undefined && record.payload === event.payload && record.options === event.options;
    if (!rowHolds) return withHistoryEntry(history, historyEntry(key, event));
    const entry = rowPayloadEntry(key, event);
    return entryFits(history, fullEntryChars(entry, event)) ? appendEntry(history, entry) : undefined;
  }

  /** The row's payload or options are about to change from `before`'s: the entries that stood for them take them in full. */
  #materializeHistory(task: TaskInBatch, before: TaskRecord): void {
    const history = materializedHistory(task.history, before.payload, before.options);
    if (history === task.history) return;
    task.history = history;
    task.historyRewritten = true;
  }

  /**
   * Writes a task the batch assumed to have no row: one INSERT that does nothing when a row exists.
   * Only then is the row read, and the batch's applies of the task made again over it, so the row and
   * every answer end up exactly as if it had been read first.
   */
  #writeAssumedNew(task: TaskInBatch): void {
    const applies = task.assumedNew;
    const record = task.record;
    assert(applies !== undefined && record !== undefined, 'a task assumed new has a record from its first state event');
    task.assumedNew = undefined;
    const inserted = this.#taskWriter.insertIfAbsent(record, task.history);
    if (inserted !== undefined) {
      task.chars = inserted;
      task.historyRewritten = false;
      task.storedHistoryLength = task.history.length;
      this.#writeOverflow(task);
      return;
    }
    const row = this.#selectTask.get(record.id);
    assert(row !== undefined, 'the INSERT found a row the SELECT does not');
    Object.assign(task, storedTask(row));
    for (const pending of applies) this.#applyTo(task, pending);
    this.#write(task);
  }

  /**
   * A record to resolve an apply with: records handed out are the caller's to change, so one the store
   * keeps for later rounds goes out as a copy (the others, the store no longer holds).
   */
  #handOut(record: TaskRecord | undefined): TaskRecord | undefined {
    return record !== undefined && this.#recent.holds(record) ? { ...record } : record;
  }

  /**
   * The task of `first`, its first event in the batch, as its row holds it: from the records kept since
   * an earlier round (not copied: transitions never change a record), or else, for a 'queued' event,
   * assumed to have no row (nearly always a new task; #writeAssumedNew checks), or read. Other events
   * of a task not kept mostly find its row (a task queued long ago, its record dropped since), where
   * the INSERT would be wasted; and a progress report must not make a record of an unknown task.
   */
  #taskInBatch(first: TaskEvent | TaskProgressEvent): TaskInBatch {
    const recent = this.#recent.get(first.id);
    if (recent !== undefined) {
      const { record, history, chars } = recent;
      return { stored: record, chars, record, history, storedHistoryLength: history.length, historyRewritten: false, overflow: undefined, assumedNew: undefined };
    }
    if (first.kind === 'queued') return taskWithoutRow([]);
    const row = this.#selectTask.get(first.id);
    return row === undefined ? taskWithoutRow(undefined) : { ...storedTask(row), assumedNew: undefined };
  }

  /** Forgets the records kept when another connection (another keeper on this file) has committed since this store last did. */
  #forgetRecentIfOthersWrote(): void {
    const version = this.#selectDataVersion.get();
    if (version !== this.#dataVersion) this.#recent.clear();
    this.#dataVersion = version;
  }

  /** Keeps the records of the unfinished tasks a committed batch touched; a finished task rarely hears more. */
  #rememberCommitted(tasks: Map<string, TaskInBatch>): void {
    for (const [id, { record, history, chars }] of tasks) {
      if (record === undefined || TERMINAL_STATES.includes(record.state)) this.#recent.forget(id);
      else this.#recent.remember(record, history, chars);
    }
  }

  /** The record of task `id`, if known. */
  async get(id: string): Promise<TaskRecord | undefined> {
    this.#commitHeld();
    const row = this.#selectRecord.get(id);
    return row === undefined ? undefined : fromTaskRow(row);
  }

  /** Records matching the query, newest first. */
  async list(query: TaskQuery): Promise<TaskRecord[]> {
    this.#commitHeld();
    const filters: string[] = [];
    const parameters: Record<string, string | number> = listPaging(query);
    if (query.name !== undefined) {
      filters.push('name = @name');
      parameters['name'] = query.name;
    }
    if (query.state !== undefined) {
      filters.push('state = @state');
      parameters['state'] = query.state;
    }
    return this.#listStatement(filters).all(parameters).map(fromTaskRow);
  }

  #listStatement(filters: string[]): Database.Statement<Record<string, string | number>, TaskRow> {
    const where = filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : '';
    let statement = this.#listStatements.get(where);
    if (statement === undefined) {
      statement = this.#db.prepare<Record<string, string | number>, TaskRow>(
        `SELECT ${TASK_COLUMNS.join(', ')} FROM tasks ${where} ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset`,
      );
      this.#listStatements.set(where, statement);
    }
    return statement;
  }

  /** Every event applied for task `id`, oldest first. */
  async history(id: string): Promise<TaskEvent[]> {
    this.#commitHeld();
    const row = this.#selectTask.get(id);
    const record = row === undefined ? undefined : fromTaskRow(row);
    return eventsOfHistory(id, row?.history ?? '', this.#selectHistoryRows.all(id), { payload: record?.payload, options: record?.options });
  }

  /** Deletes tasks that finished before `finishedBefore`, with their history; returns how many. */
  async deleteFinishedBefore(finishedBefore: number): Promise<number> {
    this.#recent.clear();
    return this.#db
      .transaction(() => {
        const before = { before: finishedBefore };
        this.#db.prepare(SQLITE_DELETE_FINISHED_DELIVERIES).run(before);
        this.#db.prepare(`DELETE FROM task_events WHERE task_id IN (SELECT id FROM tasks WHERE ${SQLITE_FINISHED_TASKS})`).run(before);
        return this.#db.prepare(`DELETE FROM tasks WHERE ${SQLITE_FINISHED_TASKS}`).run(before).changes;
      })
      .immediate();
  }

  /** Commits what is pending, then closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#commitAll();
    clearTimeout(this.#heldTimer);
    this.#db.close();
  }

}
