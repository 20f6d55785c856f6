/** How the SQL result stores lay a webhook delivery out in a row, shared so both return the same thing. */
import type { WebhookAttempt, WebhookDelivery, WebhookDeliveryState } from '../webhooks/webhook-delivery.js';

/** Columns a delivery is read from. */
export const DELIVERY_COLUMNS = ['task_id', 'run', 'url', 'message_id', 'event_type', 'body', 'state', 'attempts', 'next_attempt_at', 'created_at'] as const;

/** A row of the deliveries table (attempts as JSON text). */
export interface DeliveryRow {
  task_id: string;
  run: number;
  url: string;
  message_id: string;
  event_type: string;
  body: string;
  state: string;
  attempts: string;
  next_attempt_at: number | null;
  created_at: number;
}

/** The delivery a row holds. */
export function fromDeliveryRow(row: DeliveryRow): WebhookDelivery {
  const delivery: WebhookDelivery = {
    taskId: row.task_id,
    run: Number(row.run),
    url: row.url,
    messageId: row.message_id,
    eventType: row.event_type,
    body: row.body,
    state: row.state as WebhookDeliveryState,
    attempts: JSON.parse(row.attempts) as WebhookAttempt[],
    createdAt: Number(row.created_at),
  };
  if (row.next_attempt_at !== null) delivery.nextAttemptAt = Number(row.next_attempt_at);
  return delivery;
}
