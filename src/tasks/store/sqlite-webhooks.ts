/**
 * Webhook deliveries in the SQLite result store (see webhooks/webhook-delivery.ts). One process owns
 * a SQLite store, so a claim is a read and a lease write in one IMMEDIATE transaction.
 */
import type Database from 'better-sqlite3';
import type {
  NewWebhookDelivery,
  WebhookAttemptRecord,
  WebhookClaim,
  WebhookDelivery,
  WebhookDeliveryStore,
  WebhookLease,
} from '../webhooks/webhook-delivery.js';
import { DELIVERY_COLUMNS, fromDeliveryRow, type DeliveryRow } from './webhook-rows.js';
import { SQLITE_FINISHED_TASKS } from './sqlite-retention.js';

/** The deliveries table; created with the store, next to the tasks. */
export const SQLITE_WEBHOOK_SCHEMA = `
  CREATE TABLE IF NOT EXISTS webhook_deliveries (
    task_id TEXT NOT NULL,
    run INTEGER NOT NULL,
    url TEXT NOT NULL,
    message_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts TEXT NOT NULL,
    next_attempt_at INTEGER,
    created_at INTEGER NOT NULL,
    lease_token TEXT,
    lease_until INTEGER,
    PRIMARY KEY (task_id, run)
  );
  CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
`;

/** Deletes the deliveries of tasks that finished before @before (run inside the retention transaction). */
export const SQLITE_DELETE_FINISHED_DELIVERIES =
  `DELETE FROM webhook_deliveries WHERE task_id IN (SELECT id FROM tasks WHERE ${SQLITE_FINISHED_TASKS})`;

const COLUMNS = DELIVERY_COLUMNS.join(', ');

/** Webhook deliveries kept in `db` (whose schema already holds SQLITE_WEBHOOK_SCHEMA). */
export class SqliteWebhookDeliveries implements WebhookDeliveryStore {
  readonly #insert: Database.Statement<[NewWebhookDelivery]>;
  readonly #due: Database.Statement<[{ now: number; limit: number }], DeliveryRow>;
  readonly #lease: Database.Statement<[{ taskId: string; run: number; leaseToken: string; leaseUntil: number }]>;
  readonly #record: Database.Statement<[Record<string, string | number | null>]>;
  readonly #release: Database.Statement<[WebhookLease]>;
  readonly #latest: Database.Statement<[string], DeliveryRow>;
  readonly #claim: Database.Transaction<(claim: WebhookClaim) => WebhookDelivery[]>;

  constructor(db: Database.Database) {
    this.#insert = db.prepare(
      `INSERT OR IGNORE INTO webhook_deliveries (task_id, run, url, message_id, event_type, body, state, attempts, next_attempt_at, created_at)
       VALUES (@taskId, @run, @url, @messageId, @eventType, @body, 'pending', '[]', @nextAttemptAt, @createdAt)`,
    );
    this.#due = db.prepare(
      `SELECT ${COLUMNS} FROM webhook_deliveries
       WHERE state = 'pending' AND next_attempt_at <= @now AND (lease_until IS NULL OR lease_until <= @now)
       ORDER BY next_attempt_at LIMIT @limit`,
    );
    this.#lease = db.prepare('UPDATE webhook_deliveries SET lease_token = @leaseToken, lease_until = @leaseUntil WHERE task_id = @taskId AND run = @run');
    this.#record = db.prepare(
      `UPDATE webhook_deliveries SET attempts = json_insert(attempts, '$[#]', json(@attempt)), state = @state,
         next_attempt_at = @nextAttemptAt, lease_token = NULL, lease_until = NULL
       WHERE task_id = @taskId AND run = @run AND lease_token = @leaseToken`,
    );
    this.#release = db.prepare('UPDATE webhook_deliveries SET lease_token = NULL, lease_until = NULL WHERE task_id = @taskId AND run = @run AND lease_token = @leaseToken');
    this.#latest = db.prepare(`SELECT ${COLUMNS} FROM webhook_deliveries WHERE task_id = ? ORDER BY run DESC LIMIT 1`);
    this.#claim = db.transaction((claim: WebhookClaim) => {
      const rows = this.#due.all({ now: claim.now, limit: claim.limit });
      for (const row of rows) this.#lease.run({ taskId: row.task_id, run: row.run, leaseToken: claim.leaseToken, leaseUntil: claim.leaseUntil });
      return rows.map(fromDeliveryRow);
    });
  }

  async add(delivery: NewWebhookDelivery): Promise<boolean> {
    const { taskId, run, url, messageId, eventType, body, nextAttemptAt, createdAt } = delivery;
    return this.#insert.run({ taskId, run, url, messageId, eventType, body, nextAttemptAt, createdAt }).changes === 1;
  }

  async claim(claim: WebhookClaim): Promise<WebhookDelivery[]> {
    return this.#claim.immediate(claim);
  }

  async recordAttempt(record: WebhookAttemptRecord): Promise<boolean> {
    const { taskId, run, leaseToken, state } = record;
    const parameters = { taskId, run, leaseToken, state, attempt: JSON.stringify(record.attempt), nextAttemptAt: record.nextAttemptAt ?? null };
    return this.#record.run(parameters).changes === 1;
  }

  async release(lease: WebhookLease): Promise<void> {
    const { taskId, run, leaseToken } = lease;
    this.#release.run({ taskId, run, leaseToken });
  }

  async latest(taskId: string): Promise<WebhookDelivery | undefined> {
    const row = this.#latest.get(taskId);
    return row === undefined ? undefined : fromDeliveryRow(row);
  }
}
