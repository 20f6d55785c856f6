/**
 * The SQLite side of SchedulingStore: idempotency keys, schedules and schedule slots in the result
 * store's database. SqliteResultStore delegates to it. Every claim is one statement, so it is atomic
 * even with several processes on one file (SQLite serialises writers).
 */
import type Database from 'better-sqlite3';
import type { IdempotencyKeyOwner } from '../idempotency.js';
import type { Schedule } from '../schedule.js';
import {
  fromScheduleRow,
  fromScheduleSlotRow,
  toScheduleRow,
  type IdempotencyKeyClaim,
  type ScheduleRow,
  type ScheduleSlot,
  type ScheduleSlotRow,
  type SchedulingStore,
} from './scheduling-store.js';

/** Tables added next to the task tables (CREATE IF NOT EXISTS: older files gain them on open). */
export const SQLITE_SCHEDULING_SCHEMA = `
  CREATE TABLE IF NOT EXISTS task_idempotency_keys (
    task_name TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    task_id TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (task_name, idempotency_key)
  );
  CREATE INDEX IF NOT EXISTS task_idempotency_keys_by_expiry ON task_idempotency_keys (expires_at);
  CREATE TABLE IF NOT EXISTS task_schedules (
    id TEXT PRIMARY KEY,
    task_name TEXT NOT NULL,
    cron TEXT NOT NULL,
    tz TEXT NOT NULL,
    payload TEXT NOT NULL,
    options TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS task_schedule_slots (
    schedule_id TEXT NOT NULL,
    slot_at INTEGER NOT NULL,
    task_id TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    submitted_at INTEGER,
    PRIMARY KEY (schedule_id, slot_at)
  );
  CREATE INDEX IF NOT EXISTS task_schedule_slots_unsubmitted ON task_schedule_slots (claimed_at) WHERE submitted_at IS NULL;
`;

const SCHEDULE_COLUMNS = 'id, task_name, cron, tz, payload, options, created_at, updated_at';
const SLOT_COLUMNS = 'schedule_id, slot_at, task_id, claimed_at';

/** SchedulingStore over a better-sqlite3 database whose schema includes SQLITE_SCHEDULING_SCHEMA. */
export class SqliteScheduling implements SchedulingStore {
  readonly #claimKey: Database.Statement<[IdempotencyKeyClaim], { task_id: string }>;
  readonly #selectKey: Database.Statement<[string, string], { task_id: string }>;
  readonly #putSchedule: Database.Statement<[ScheduleRow], ScheduleRow>;
  readonly #selectSchedule: Database.Statement<[string], ScheduleRow>;
  readonly #claimSlot: Database.Statement<[ScheduleSlot]>;

  constructor(private readonly db: Database.Database) {
    // The upsert takes the key over only when it expired or was abandoned; RETURNING then gives the new
    // owner, and no row means the key is held (read next).
    this.#claimKey = db.prepare(
      `INSERT INTO task_idempotency_keys (task_name, idempotency_key, task_id, claimed_at, expires_at)
       VALUES (@name, @key, @id, @claimedAt, @expiresAt)
       ON CONFLICT (task_name, idempotency_key) DO UPDATE
         SET task_id = excluded.task_id, claimed_at = excluded.claimed_at, expires_at = excluded.expires_at
         WHERE task_idempotency_keys.expires_at <= excluded.claimed_at
            OR (task_idempotency_keys.claimed_at <= @abandonedBefore
                AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.id = task_idempotency_keys.task_id))
       RETURNING task_id`,
    );
    this.#selectKey = db.prepare('SELECT task_id FROM task_idempotency_keys WHERE task_name = ? AND idempotency_key = ?');
    this.#putSchedule = db.prepare(
      `INSERT INTO task_schedules (${SCHEDULE_COLUMNS}) VALUES (@id, @task_name, @cron, @tz, @payload, @options, @created_at, @updated_at)
       ON CONFLICT (id) DO UPDATE SET task_name = excluded.task_name, cron = excluded.cron, tz = excluded.tz,
         payload = excluded.payload, options = excluded.options, updated_at = excluded.updated_at
       RETURNING ${SCHEDULE_COLUMNS}`,
    );
    this.#selectSchedule = db.prepare(`SELECT ${SCHEDULE_COLUMNS} FROM task_schedules WHERE id = ?`);
    this.#claimSlot = db.prepare(
      `INSERT OR IGNORE INTO task_schedule_slots (${SLOT_COLUMNS})
       SELECT @scheduleId, @slotAt, @taskId, @claimedAt
       WHERE EXISTS (SELECT 1 FROM task_schedules WHERE id = @scheduleId)
         AND NOT EXISTS (SELECT 1 FROM task_schedule_slots WHERE schedule_id = @scheduleId AND slot_at >= @slotAt)`,
    );
  }

  async claimIdempotencyKey(claim: IdempotencyKeyClaim): Promise<IdempotencyKeyOwner> {
    const claimed = this.#claimKey.get(claim);
    if (claimed !== undefined) return { id: claimed.task_id, replayed: claimed.task_id !== claim.id };
    const held = this.#selectKey.get(claim.name, claim.key);
    if (held === undefined) throw new Error('internal error: an idempotency key vanished while it was claimed');
    return { id: held.task_id, replayed: held.task_id !== claim.id };
  }

  async releaseIdempotencyKey(release: { name: string; key: string; id: string }): Promise<boolean> {
    return this.db
      .prepare('DELETE FROM task_idempotency_keys WHERE task_name = ? AND idempotency_key = ? AND task_id = ?')
      .run(release.name, release.key, release.id).changes > 0;
  }

  async deleteExpiredIdempotencyKeys(now: number): Promise<number> {
    return this.db.prepare('DELETE FROM task_idempotency_keys WHERE expires_at <= ?').run(now).changes;
  }

  async putSchedule(schedule: Schedule): Promise<Schedule> {
    const row = this.#putSchedule.get(toScheduleRow(schedule));
    if (row === undefined) throw new Error('internal error: a schedule upsert returned no row');
    return fromScheduleRow(row);
  }

  async getSchedule(id: string): Promise<Schedule | undefined> {
    const row = this.#selectSchedule.get(id);
    return row === undefined ? undefined : fromScheduleRow(row);
  }

  async listSchedules(): Promise<Schedule[]> {
    return this.db.prepare<[], ScheduleRow>(`SELECT ${SCHEDULE_COLUMNS} FROM task_schedules ORDER BY id`).all().map(fromScheduleRow);
  }

  async deleteSchedule(id: string): Promise<boolean> {
    return this.db
      .transaction(() => {
        this.db.prepare('DELETE FROM task_schedule_slots WHERE schedule_id = ?').run(id);
        return this.db.prepare('DELETE FROM task_schedules WHERE id = ?').run(id).changes > 0;
      })
      .immediate();
  }

  async claimScheduleSlot(slot: ScheduleSlot): Promise<boolean> {
    return this.#claimSlot.run(slot).changes === 1;
  }

  async markScheduleSlotSubmitted(slot: { scheduleId: string; slotAt: number; submittedAt: number }): Promise<void> {
    this.db
      .prepare('UPDATE task_schedule_slots SET submitted_at = ? WHERE schedule_id = ? AND slot_at = ?')
      .run(slot.submittedAt, slot.scheduleId, slot.slotAt);
  }

  async reclaimScheduleSlots(reclaim: { claimedBefore: number; claimedAt: number }): Promise<ScheduleSlot[]> {
    return this.db
      .prepare<[number, number], ScheduleSlotRow>(
        `UPDATE task_schedule_slots SET claimed_at = ? WHERE submitted_at IS NULL AND claimed_at < ? RETURNING ${SLOT_COLUMNS}`,
      )
      .all(reclaim.claimedAt, reclaim.claimedBefore)
      .map(fromScheduleSlotRow);
  }

  async deleteScheduleSlotsBefore(slotBefore: number): Promise<number> {
    return this.db
      .prepare(
        `DELETE FROM task_schedule_slots WHERE submitted_at IS NOT NULL AND slot_at < ?
           AND slot_at < (SELECT max(latest.slot_at) FROM task_schedule_slots AS latest WHERE latest.schedule_id = task_schedule_slots.schedule_id)`,
      )
      .run(slotBefore).changes;
  }
}
