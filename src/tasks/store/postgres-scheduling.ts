/**
 * The PostgreSQL side of SchedulingStore: idempotency keys, schedules and schedule slots next to the
 * task tables (prefixed warren_). Each claim is one statement whose unique constraint decides between
 * keepers racing for it (INSERT ... ON CONFLICT; an UPDATE re-checks its WHERE on the row it waited for).
 */
import type pg from 'pg';
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

/** Tables added next to warren_tasks (CREATE IF NOT EXISTS: older databases gain them on open). */
export const POSTGRES_SCHEDULING_SCHEMA = `
  CREATE TABLE IF NOT EXISTS warren_task_idempotency_keys (
    task_name text NOT NULL,
    idempotency_key text NOT NULL,
    task_id text NOT NULL,
    claimed_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    PRIMARY KEY (task_name, idempotency_key)
  );
  CREATE INDEX IF NOT EXISTS warren_task_idempotency_keys_by_expiry ON warren_task_idempotency_keys (expires_at);
  CREATE TABLE IF NOT EXISTS warren_task_schedules (
    id text PRIMARY KEY,
    task_name text NOT NULL,
    cron text NOT NULL,
    tz text NOT NULL,
    payload json NOT NULL,
    options json NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL
  );
  CREATE TABLE IF NOT EXISTS warren_task_schedule_slots (
    schedule_id text NOT NULL,
    slot_at double precision NOT NULL,
    task_id text NOT NULL,
    claimed_at double precision NOT NULL,
    submitted_at double precision,
    PRIMARY KEY (schedule_id, slot_at)
  );
  CREATE INDEX IF NOT EXISTS warren_task_schedule_slots_unsubmitted ON warren_task_schedule_slots (claimed_at) WHERE submitted_at IS NULL;
`;

const SCHEDULE_COLUMNS = 'id, task_name, cron, tz, payload::text AS payload, options::text AS options, created_at, updated_at';
const SLOT_COLUMNS = 'schedule_id, slot_at, task_id, claimed_at';

/** Takes a key over only when it expired or was abandoned; no row back means it is held. */
const CLAIM_KEY = `INSERT INTO warren_task_idempotency_keys AS held (task_name, idempotency_key, task_id, claimed_at, expires_at)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (task_name, idempotency_key) DO UPDATE
    SET task_id = excluded.task_id, claimed_at = excluded.claimed_at, expires_at = excluded.expires_at
    WHERE held.expires_at <= excluded.claimed_at
       OR (held.claimed_at <= $6 AND NOT EXISTS (SELECT 1 FROM warren_tasks WHERE warren_tasks.id = held.task_id))
  RETURNING task_id`;

const PUT_SCHEDULE = `INSERT INTO warren_task_schedules AS s (id, task_name, cron, tz, payload, options, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
  ON CONFLICT (id) DO UPDATE SET task_name = excluded.task_name, cron = excluded.cron, tz = excluded.tz,
    payload = excluded.payload, options = excluded.options, updated_at = excluded.updated_at
  RETURNING ${SCHEDULE_COLUMNS.replaceAll('payload::', 's.payload::').replaceAll('options::', 's.options::')}`;

const CLAIM_SLOT = `INSERT INTO warren_task_schedule_slots (${SLOT_COLUMNS})
  SELECT $1::text, $2::double precision, $3::text, $4::double precision
  WHERE EXISTS (SELECT 1 FROM warren_task_schedules WHERE id = $1)
    AND NOT EXISTS (SELECT 1 FROM warren_task_schedule_slots WHERE schedule_id = $1 AND slot_at >= $2)
  ON CONFLICT DO NOTHING`;

/** SchedulingStore over a pg pool whose database has POSTGRES_SCHEDULING_SCHEMA. */
export class PostgresScheduling implements SchedulingStore {
  constructor(private readonly pool: pg.Pool) {}

  async claimIdempotencyKey(claim: IdempotencyKeyClaim): Promise<IdempotencyKeyOwner> {
    const values = [claim.name, claim.key, claim.id, claim.claimedAt, claim.expiresAt, claim.abandonedBefore];
    // A held key can expire and be deleted between the upsert and the read: then claim again.
    for (let tries = 0; tries < 3; tries++) {
      const claimed = await this.pool.query<{ task_id: string }>(CLAIM_KEY, values);
      const owner = claimed.rows[0] ?? (await this.pool.query<{ task_id: string }>(
        'SELECT task_id FROM warren_task_idempotency_keys WHERE task_name = $1 AND idempotency_key = $2', [claim.name, claim.key],
      )).rows[0];
      if (owner !== undefined) return { id: owner.task_id, replayed: owner.task_id !== claim.id };
    }
    throw new Error(`idempotency key ${JSON.stringify(claim.key)}: gave up after it vanished three times while claimed`);
  }

  async releaseIdempotencyKey(release: { name: string; key: string; id: string }): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'DELETE FROM warren_task_idempotency_keys WHERE task_name = $1 AND idempotency_key = $2 AND task_id = $3',
      [release.name, release.key, release.id],
    );
    return (rowCount ?? 0) > 0;
  }

  async deleteExpiredIdempotencyKeys(now: number): Promise<number> {
    const { rowCount } = await this.pool.query('DELETE FROM warren_task_idempotency_keys WHERE expires_at <= $1', [now]);
    return rowCount ?? 0;
  }

  async putSchedule(schedule: Schedule): Promise<Schedule> {
    const row = toScheduleRow(schedule);
    const { rows } = await this.pool.query<ScheduleRow>(PUT_SCHEDULE, [
      row.id, row.task_name, row.cron, row.tz, row.payload, row.options, row.created_at, row.updated_at,
    ]);
    if (rows[0] === undefined) throw new Error('internal error: a schedule upsert returned no row');
    return fromScheduleRow(rows[0]);
  }

  async getSchedule(id: string): Promise<Schedule | undefined> {
    const { rows } = await this.pool.query<ScheduleRow>(`SELECT ${SCHEDULE_COLUMNS} FROM warren_task_schedules WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : fromScheduleRow(rows[0]);
  }

  async listSchedules(): Promise<Schedule[]> {
    const { rows } = await this.pool.query<ScheduleRow>(`SELECT ${SCHEDULE_COLUMNS} FROM warren_task_schedules ORDER BY id COLLATE "C"`);
    return rows.map(fromScheduleRow);
  }

  async deleteSchedule(id: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ deleted: number }>(
      `WITH gone AS (DELETE FROM warren_task_schedules WHERE id = $1 RETURNING id),
         gone_slots AS (DELETE FROM warren_task_schedule_slots WHERE schedule_id = $1)
       SELECT count(*)::integer AS deleted FROM gone`,
      [id],
    );
    return (rows[0]?.deleted ?? 0) > 0;
  }

  async claimScheduleSlot(slot: ScheduleSlot): Promise<boolean> {
    const { rowCount } = await this.pool.query(CLAIM_SLOT, [slot.scheduleId, slot.slotAt, slot.taskId, slot.claimedAt]);
    return rowCount === 1;
  }

  async markScheduleSlotSubmitted(slot: { scheduleId: string; slotAt: number; submittedAt: number }): Promise<void> {
    await this.pool.query('UPDATE warren_task_schedule_slots SET submitted_at = $1 WHERE schedule_id = $2 AND slot_at = $3', [
      slot.submittedAt, slot.scheduleId, slot.slotAt,
    ]);
  }

  async reclaimScheduleSlots(reclaim: { claimedBefore: number; claimedAt: number }): Promise<ScheduleSlot[]> {
    const { rows } = await this.pool.query<ScheduleSlotRow>(
      `UPDATE warren_task_schedule_slots SET claimed_at = $1 WHERE submitted_at IS NULL AND claimed_at < $2 RETURNING ${SLOT_COLUMNS}`,
      [reclaim.claimedAt, reclaim.claimedBefore],
    );
    return rows.map(fromScheduleSlotRow);
  }

  async deleteScheduleSlotsBefore(slotBefore: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM warren_task_schedule_slots AS slot WHERE submitted_at IS NOT NULL AND slot_at < $1
         AND slot_at < (SELECT max(latest.slot_at) FROM warren_task_schedule_slots AS latest WHERE latest.schedule_id = slot.schedule_id)`,
      [slotBefore],
    );
    return rowCount ?? 0;
  }
}
