/**
 * The keeper's side of cancellation: it records the 'cancelled' event (published on the events exchange
 * like any other, and applied to its store at once), then publishes a cancel notice on the control
 * exchange so workers abort a running attempt and skip the task should it reach them later. When a
 * worker reports an attempt of a cancelled task 'started' (it started after the notice, or its notice
 * was lost), the keeper publishes the notice again.
 */
import type { AMQPChannel } from '@cloudamqp/amqp-client';
import type { Logger } from '../util/logger.js';
import { TASK_EVENTS_EXCHANGE, TASK_PROTOCOL_VERSION, TERMINAL_STATES, eventRoutingKey, type TaskEvent } from './protocol.js';
import type { ResultStore, TaskRecord } from './store/result-store.js';
import {
  CANCELLED_LIST_MAX,
  CANCELLED_REMEMBER_MS,
  TASK_CONTROL_EXCHANGE,
  cancelRoutingKey,
  cancelledEvent,
  type CancelNotice,
  type CancelledRun,
} from './task-cancellation.js';
import { KeeperRequestError } from './task-errors.js';
import { jsonMessage } from './task-message.js';

/** What a cancel works with: the store, and a confirm-mode channel the keeper owns (control exchange declared). */
export interface CancelContext {
  store: ResultStore;
  channel: AMQPChannel;
  logger: Logger;
}

/**
 * Cancels task `id`; resolves with its record, now cancelled. Throws KeeperRequestError 'not_found'
 * for an unknown task and 'conflict' for one already finished.
 */
export async function cancelTask(context: CancelContext, id: string): Promise<TaskRecord> {
  const { store, channel, logger } = context;
  const current = await store.get(id);
  if (current === undefined) throw new KeeperRequestError('not_found', `no task ${id} is recorded`);
  if (TERMINAL_STATES.includes(current.state)) throw new KeeperRequestError('conflict', `task ${id} is already ${current.state}`);
  const event = cancelledEvent(current, Date.now());
  const message = jsonMessage(event);
  await channel.basicPublish(TASK_EVENTS_EXCHANGE, eventRoutingKey(event), message.body, message.properties);
  // Applied here as well, so the answer shows it; the keeper queue brings the same event back later.
  const record = await store.apply(event);
  await publishCancelNotice(channel, record);
  logger.info({ id, name: record.name, run: record.run, was: current.state }, 'task cancelled');
  return record;
}

/**
 * The runs of `names` cancelled within CANCELLED_REMEMBER_MS (newest CANCELLED_LIST_MAX per name): what
 * a worker that starts must skip, since it cannot have heard their notices.
 */
export async function recentlyCancelled(store: ResultStore, names: readonly string[], now: number): Promise<CancelledRun[]> {
  const since = now - CANCELLED_REMEMBER_MS;
  const runs: CancelledRun[] = [];
  for (const name of names) {
    for (const record of await store.list({ name, state: 'cancelled', limit: CANCELLED_LIST_MAX })) {
      if ((record.finishedAt ?? record.updatedAt) >= since) runs.push({ id: record.id, run: record.run });
    }
  }
  return runs;
}

/** True when a worker reported an attempt of a run the record says is cancelled: its notice must go out again. */
export function startedAfterCancel(event: TaskEvent, record: TaskRecord): boolean {
  return event.kind === 'started' && record.state === 'cancelled' && event.run === record.run;
}

/** Publishes the cancel notice of a cancelled record's run (transient: only running workers need it). */
export async function publishCancelNotice(channel: AMQPChannel, record: Pick<TaskRecord, 'id' | 'name' | 'run'>): Promise<void> {
  const notice: CancelNotice = { protocol: TASK_PROTOCOL_VERSION, op: 'cancel', id: record.id, name: record.name, run: record.run, at: Date.now() };
  const message = jsonMessage(notice, { deliveryMode: 1 });
  await channel.basicPublish(TASK_CONTROL_EXCHANGE, cancelRoutingKey(record.name), message.body, message.properties);
}
