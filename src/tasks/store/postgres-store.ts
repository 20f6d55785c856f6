/**
 * The PostgreSQL result store, for keepers that share results between hosts. Several keepers may
 * apply events for the same task at once, so a write is a compare-and-set: every row carries a
 * version, an update applies only if the version is still the one read (else it reads again and
 * re-applies), and a new task is inserted only if no other keeper inserted it first. No update is
 * lost, and an apply costs two statements (read; write with the event) in autocommit, instead of
 * the five round trips of BEGIN, SELECT ... FOR UPDATE, write, event, COMMIT. Tables are prefixed
 * with warren_ because the database may be shared with other applications.
 */
import pg from 'pg';
import type { TaskEvent } from '../protocol.js';
import { applyEvent } from './apply-event.js';
import { applyProgress } from './apply-progress.js';
import type { TaskProgressEvent } from '../task-progress.js';
import type { ResultStore, TaskQuery, TaskRecord } from './result-store.js';
import { POSTGRES_SCHEDULING_SCHEMA, PostgresScheduling } from './postgres-scheduling.js';
import { HISTORY_ORDER, TASK_COLUMNS, eventKey, fromTaskRow, listPaging, toTaskRow, type TaskRow } from './task-rows.js';
import { POSTGRES_DELETE_GONE_DELIVERIES, POSTGRES_WEBHOOK_SCHEMA, PostgresWebhookDeliveries } from './postgres-webhooks.js';

/**
 * json, not jsonb: jsonb rejects "\u0000" in strings and reorders keys; json keeps the text as written.
 * `version` counts the writes of a row, for the compare-and-set.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS warren_tasks (
    id text PRIMARY KEY,
    name text NOT NULL,
    state text NOT NULL,
    run integer NOT NULL,
    attempts integer NOT NULL,
    payload json,
    options json NOT NULL,
    result json,
    error json,
    retry_at double precision,
    created_at double precision NOT NULL,
    started_at double precision,
    finished_at double precision,
    updated_at double precision NOT NULL,
    version integer NOT NULL
  );
  CREATE INDEX IF NOT EXISTS warren_tasks_by_created ON warren_tasks (created_at, id);
  CREATE INDEX IF NOT EXISTS warren_tasks_by_name ON warren_tasks (name, created_at, id);
  CREATE INDEX IF NOT EXISTS warren_tasks_by_state ON warren_tasks (state, created_at, id);
  CREATE INDEX IF NOT EXISTS warren_tasks_by_finished ON warren_tasks (finished_at) WHERE finished_at IS NOT NULL;
  CREATE TABLE IF NOT EXISTS warren_task_events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id text NOT NULL,
    run integer NOT NULL,
    attempt integer NOT NULL,
    kind text NOT NULL,
    at double precision NOT NULL,
    body json NOT NULL,
    UNIQUE (task_id, run, attempt, kind, at)
  );
  ALTER TABLE warren_tasks ADD COLUMN IF NOT EXISTS progress json;
  ALTER TABLE warren_tasks ADD COLUMN IF NOT EXISTS progress_at double precision;
`;

/** Serialises schema creation between keepers starting together (CREATE ... IF NOT EXISTS races). */
const SCHEMA_LOCK_KEY = 0x77617272; // "warr"

const JSON_COLUMNS = new Set<string>(['payload', 'options', 'result', 'error', 'progress']);

/** JSON columns are read as text so that SQL NULL (absent) and JSON null stay apart. */
const SELECT_COLUMNS = TASK_COLUMNS.map((column) => (JSON_COLUMNS.has(column) ? `${column}::text AS ${column}` : column)).join(', ');

const EVENT_COLUMNS = 'task_id, run, attempt, kind, at, body';
const TASK_COUNT = TASK_COLUMNS.length;

/** Parameters $from..$from+count-1, comma-separated. */
function placeholders(from: number, count: number): string {
  return Array.from({ length: count }, (_, index) => `$${from + index}`).join(', ');
}

const SELECT_TASK = 'SELECT version, ' + SELECT_COLUMNS + ' FROM warren_tasks WHERE id = $1';

/** Inserts a new task unless another keeper did first, and records the event; `written` is 0 or 1. */
const INSERT_TASK = `WITH task AS (
    INSERT INTO warren_tasks (${TASK_COLUMNS.join(', ')}, version) VALUES (${placeholders(1, TASK_COUNT)}, 1)
    ON CONFLICT (id) DO NOTHING RETURNING 1),
  event AS (INSERT INTO warren_task_events (${EVENT_COLUMNS}) VALUES (${placeholders(TASK_COUNT + 1, 6)}) ON CONFLICT DO NOTHING)
  SELECT count(*)::integer AS written FROM task`;

/** Updates a task if its version is still $TASK_COUNT+1, and records the event; `written` is 0 or 1. */
const UPDATE_TASK = `WITH task AS (
    UPDATE warren_tasks SET ${TASK_COLUMNS.map((column, index) => `${column} = $${index + 1}`).slice(1).join(', ')}, version = version + 1
    WHERE id = $1 AND version = $${TASK_COUNT + 1} RETURNING 1),
  event AS (INSERT INTO warren_task_events (${EVENT_COLUMNS}) VALUES (${placeholders(TASK_COUNT + 2, 6)}) ON CONFLICT DO NOTHING)
  SELECT count(*)::integer AS written FROM task`;

/** Sets a task's progress if its version is still $4 (a progress report is not kept in the history). */
const UPDATE_PROGRESS = 'UPDATE warren_tasks SET progress = $2, progress_at = $3, version = version + 1 WHERE id = $1 AND version = $4';

const INSERT_EVENT = `INSERT INTO warren_task_events (${EVENT_COLUMNS}) VALUES (${placeholders(1, 6)}) ON CONFLICT DO NOTHING`;

/** Reads-and-writes one apply tries before giving up (each lost race means another keeper won one). */
const APPLY_TRIES_MAX = 100;

/** Settings of a PostgreSQL result store. */
export interface PostgresResultStoreOptions {
  /** Most connections the store opens (default 10). */
  connectionsMax?: number;
}

/** The row's values in TASK_COLUMNS order, as query parameters. */
function taskParameters(record: TaskRecord): unknown[] {
  const row = toTaskRow(record);
  return TASK_COLUMNS.map((column) => row[column]);
}

/** A result store in a PostgreSQL database. */
export class PostgresResultStore implements ResultStore {
  readonly #pool: pg.Pool;
  #closed = false;
  /** Webhook deliveries, in the same database. */
  readonly webhooks: PostgresWebhookDeliveries;
  /** Idempotency keys and schedules (SchedulingStore), in the same database. */
  readonly scheduling: PostgresScheduling;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
    this.webhooks = new PostgresWebhookDeliveries(pool);
    this.scheduling = new PostgresScheduling(pool);
  }

  /** Connects to `connectionString` (postgres://...) and creates the tables if they are missing. */
  static async open(connectionString: string, options: PostgresResultStoreOptions = {}): Promise<PostgresResultStore> {
    const pool = new pg.Pool({ connectionString, max: options.connectionsMax ?? 10 });
    // An idle connection that breaks (server restart) is dropped by the pool and replaced on the next
    // query; without a listener its 'error' event would crash the process.
    pool.on('error', () => undefined);
    const store = new PostgresResultStore(pool);
    try {
      await store.#transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
        await client.query(SCHEMA);
        await client.query(POSTGRES_WEBHOOK_SCHEMA);
        await client.query(POSTGRES_SCHEDULING_SCHEMA);
      });
    } catch (error) {
      await pool.end();
      throw error;
    }
    return store;
  }

  async #transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const result = await body(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Applies `event` (see ResultStore.apply): read, applyEvent, compare-and-set, again if a race was
   * lost. The statements are named, so each connection parses and plans them once.
   */
  async apply(event: TaskEvent): Promise<TaskRecord> {
    const eventParameters = [...eventKey(event), JSON.stringify(event)];
    for (let tries = 0; tries < APPLY_TRIES_MAX; tries++) {
      const { rows } = await this.#pool.query<TaskRow & { version: number }>({ name: 'warren_task_select', text: SELECT_TASK, values: [event.id] });
      const row = rows[0];
      const current = row === undefined ? undefined : fromTaskRow(row);
      const next = applyEvent(current, event);
      const record = next ?? current;
      if (record === undefined) throw new Error('internal error: applyEvent left an unknown task without a record');
      if (next === undefined) {
        await this.#pool.query({ name: 'warren_task_event_insert', text: INSERT_EVENT, values: eventParameters });
        return record;
      }
      const write =
        row === undefined
          ? { name: 'warren_task_insert', text: INSERT_TASK, values: [...taskParameters(next), ...eventParameters] }
          : { name: 'warren_task_update', text: UPDATE_TASK, values: [...taskParameters(next), row.version, ...eventParameters] };
      const written = await this.#pool.query<{ written: number }>(write);
      if (written.rows[0]?.written === 1) return record;
      // Another keeper changed (or created) the task since our read: apply on top of its record.
    }
    throw new Error(`task ${event.id}: gave up applying a ${event.kind} event after ${APPLY_TRIES_MAX} lost races`);
  }

  /** Records a progress report (see ResultStore.recordProgress): read, applyProgress, compare-and-set. */
  async recordProgress(event: TaskProgressEvent): Promise<TaskRecord | undefined> {
    for (let tries = 0; tries < APPLY_TRIES_MAX; tries++) {
      const { rows } = await this.#pool.query<TaskRow & { version: number }>({ name: 'warren_task_select', text: SELECT_TASK, values: [event.id] });
      const row = rows[0];
      const current = row === undefined ? undefined : fromTaskRow(row);
      const next = applyProgress(current, event);
      if (next === undefined || row === undefined) return current;
      const values = [event.id, JSON.stringify(next.progress ?? null), next.progressAt, row.version];
      const written = await this.#pool.query({ name: 'warren_task_progress_update', text: UPDATE_PROGRESS, values });
      if (written.rowCount === 1) return next;
    }
    throw new Error(`task ${event.id}: gave up recording progress after ${APPLY_TRIES_MAX} lost races`);
  }

  /** The record of task `id`, if known. */
  async get(id: string): Promise<TaskRecord | undefined> {
    const { rows } = await this.#pool.query<TaskRow>({ name: 'warren_task_select', text: SELECT_TASK, values: [id] });
    return rows[0] === undefined ? undefined : fromTaskRow(rows[0]);
  }

  /** Records matching the query, newest first. */
  async list(query: TaskQuery): Promise<TaskRecord[]> {
    const filters: string[] = [];
    const parameters: unknown[] = [];
    if (query.name !== undefined) {
      parameters.push(query.name);
      filters.push(`name = $${parameters.length}`);
    }
    if (query.state !== undefined) {
      parameters.push(query.state);
      filters.push(`state = $${parameters.length}`);
    }
    const { limit, offset } = listPaging(query);
    parameters.push(limit, offset);
    const where = filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : '';
    const { rows } = await this.#pool.query<TaskRow>(
      `SELECT ${SELECT_COLUMNS} FROM warren_tasks ${where} ORDER BY created_at DESC, id DESC
       LIMIT $${parameters.length - 1} OFFSET $${parameters.length}`,
      parameters,
    );
    return rows.map(fromTaskRow);
  }

  /** Every event applied for task `id`, oldest first. */
  async history(id: string): Promise<TaskEvent[]> {
    const { rows } = await this.#pool.query<{ body: string }>(
      `SELECT body::text AS body FROM warren_task_events WHERE task_id = $1 ORDER BY ${HISTORY_ORDER}`,
      [id],
    );
    return rows.map((row) => JSON.parse(row.body) as TaskEvent);
  }

  /** Deletes tasks that finished before `finishedBefore`, with their history; returns how many. */
  async deleteFinishedBefore(finishedBefore: number): Promise<number> {
    const { rows } = await this.#pool.query<{ count: number }>(
      `WITH gone AS (DELETE FROM warren_tasks WHERE finished_at < $1 RETURNING id),
         gone_events AS (DELETE FROM warren_task_events WHERE task_id IN (SELECT id FROM gone)),
         ${POSTGRES_DELETE_GONE_DELIVERIES}
       SELECT count(*)::integer AS count FROM gone`,
      [finishedBefore],
    );
    return rows[0]?.count ?? 0;
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

}
