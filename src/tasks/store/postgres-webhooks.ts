/**
 * Webhook deliveries in the PostgreSQL result store (see webhooks/webhook-delivery.ts). Several
 * keepers may share the database: a claim leases due rows in one statement that skips rows another
 * keeper is claiming at that moment (FOR UPDATE SKIP LOCKED), so each attempt is made by one keeper.
 */
import type pg from 'pg';
import type {
  NewWebhookDelivery,
  WebhookAttemptRecord,
  WebhookClaim,
  WebhookDelivery,
  WebhookDeliveryStore,
  WebhookLease,
} from '../webhooks/webhook-delivery.js';
import { DELIVERY_COLUMNS, fromDeliveryRow, type DeliveryRow } from './webhook-rows.js';

/** The deliveries table; created with the store's schema. `body` is text: its bytes are what was signed. */
export const POSTGRES_WEBHOOK_SCHEMA = `
  CREATE TABLE IF NOT EXISTS warren_webhook_deliveries (
    task_id text NOT NULL,
    run integer NOT NULL,
    url text NOT NULL,
    message_id text NOT NULL,
    event_type text NOT NULL,
    body text NOT NULL,
    state text NOT NULL,
    attempts text NOT NULL,
    next_attempt_at double precision,
    created_at double precision NOT NULL,
    lease_token text,
    lease_until double precision,
    PRIMARY KEY (task_id, run)
  );
  CREATE INDEX IF NOT EXISTS warren_webhook_deliveries_due ON warren_webhook_deliveries (next_attempt_at) WHERE state = 'pending';
`;

/** Deletes the deliveries of the tasks in the CTE `gone` (the retention statement). */
export const POSTGRES_DELETE_GONE_DELIVERIES = 'gone_deliveries AS (DELETE FROM warren_webhook_deliveries WHERE task_id IN (SELECT id FROM gone))';

const COLUMNS = DELIVERY_COLUMNS.join(', ');

const INSERT = `INSERT INTO warren_webhook_deliveries (task_id, run, url, message_id, event_type, body, state, attempts, next_attempt_at, created_at)
  VALUES ($1, $2, $3, $4, $5, $6, 'pending', '[]', $7, $8) ON CONFLICT DO NOTHING`;

const CLAIM = `WITH due AS (
    SELECT task_id, run FROM warren_webhook_deliveries
    WHERE state = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
    ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
  UPDATE warren_webhook_deliveries AS d SET lease_token = $3, lease_until = $4
  FROM due WHERE d.task_id = due.task_id AND d.run = due.run
  RETURNING ${DELIVERY_COLUMNS.map((column) => `d.${column}`).join(', ')}`;

const RECORD = `UPDATE warren_webhook_deliveries
  SET attempts = (attempts::jsonb || jsonb_build_array($4::jsonb))::text, state = $5, next_attempt_at = $6, lease_token = NULL, lease_until = NULL
  WHERE task_id = $1 AND run = $2 AND lease_token = $3`;

const RELEASE = 'UPDATE warren_webhook_deliveries SET lease_token = NULL, lease_until = NULL WHERE task_id = $1 AND run = $2 AND lease_token = $3';

const LATEST = `SELECT ${COLUMNS} FROM warren_webhook_deliveries WHERE task_id = $1 ORDER BY run DESC LIMIT 1`;

/** Webhook deliveries kept through `pool` (whose database already holds POSTGRES_WEBHOOK_SCHEMA). */
export class PostgresWebhookDeliveries implements WebhookDeliveryStore {
  constructor(private readonly pool: pg.Pool) {}

  async add(delivery: NewWebhookDelivery): Promise<boolean> {
    const { taskId, run, url, messageId, eventType, body, nextAttemptAt, createdAt } = delivery;
    const result = await this.pool.query(INSERT, [taskId, run, url, messageId, eventType, body, nextAttemptAt, createdAt]);
    return result.rowCount === 1;
  }

  async claim(claim: WebhookClaim): Promise<WebhookDelivery[]> {
    const { rows } = await this.pool.query<DeliveryRow>(CLAIM, [claim.now, claim.limit, claim.leaseToken, claim.leaseUntil]);
    return rows.map(fromDeliveryRow).sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0));
  }

  async recordAttempt(record: WebhookAttemptRecord): Promise<boolean> {
    const { taskId, run, leaseToken, attempt, state } = record;
    const result = await this.pool.query(RECORD, [taskId, run, leaseToken, JSON.stringify(attempt), state, record.nextAttemptAt ?? null]);
    return result.rowCount === 1;
  }

  async release(lease: WebhookLease): Promise<void> {
    await this.pool.query(RELEASE, [lease.taskId, lease.run, lease.leaseToken]);
  }

  async latest(taskId: string): Promise<WebhookDelivery | undefined> {
    const { rows } = await this.pool.query<DeliveryRow>(LATEST, [taskId]);
    return rows[0] === undefined ? undefined : fromDeliveryRow(rows[0]);
  }
}
