/**
 * The worker's side of ctx.progress(): reports are coalesced (at most one publish per
 * PROGRESS_INTERVAL_MS per attempt, always ending with the latest value) and published without waiting
 * for the broker's confirm, as a transient 'progress' event and, when the task has a reply_to, as a
 * progress message there. An attempt that never reports progress costs nothing.
 */
import type { AMQPChannel, AMQPMessage } from '@cloudamqp/amqp-client';
import { TASK_CONTENT_TYPE, TASK_EVENTS_EXCHANGE, TASK_PROTOCOL_VERSION, TaskHeader } from './protocol.js';
import { PROGRESS_EVENT_KIND, PROGRESS_MESSAGE_TYPE, snapshotProgress, type TaskProgress, type TaskProgressEvent, type TaskProgressMessage } from './task-progress.js';
import type { TaskHeaders } from './worker-message.js';

/** Shortest time between two progress publishes of one attempt; reports in between are coalesced. */
export const PROGRESS_INTERVAL_MS = 100;

/** Publishes one progress report (called at most every PROGRESS_INTERVAL_MS). */
export type ProgressPublish = (progress: TaskProgress, at: number) => void;

/** Coalesces one attempt's progress reports. */
export class ProgressReporter {
  private latest: TaskProgress | undefined;
  private lastPublishedAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(private readonly publish: ProgressPublish) {}

  /** Takes a report (throws a TypeError for a value that is not valid progress); ignored once finished. */
  report(value: unknown): void {
    const snapshot = snapshotProgress(value);
    if (this.finished) return;
    this.latest = snapshot;
    const waitMs = this.lastPublishedAt + PROGRESS_INTERVAL_MS - Date.now();
    if (waitMs <= 0) this.publishLatest();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.publishLatest();
      }, waitMs);
      this.timer.unref();
    }
  }

  /** The attempt ended: publishes a report still waiting (before the outcome), and ignores later ones. */
  finish(): void {
    if (this.finished) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.publishLatest();
    this.finished = true;
  }

  private publishLatest(): void {
    const progress = this.latest;
    if (progress === undefined || this.finished) return;
    this.latest = undefined;
    this.lastPublishedAt = Date.now();
    this.publish(progress, this.lastPublishedAt);
  }
}

/**
 * Publishes an attempt's progress on `channel`: the event, and the message to reply_to when there is
 * one. Not awaited: a lost progress report is superseded by the next, and the outcome's publishes on
 * the same channel report a channel failure.
 */
export function progressPublisher(channel: AMQPChannel, message: AMQPMessage, task: TaskHeaders): ProgressPublish {
  return (progress, at) => {
    const fields: TaskProgressMessage = { protocol: TASK_PROTOCOL_VERSION, id: task.id, name: task.name, run: task.run, attempt: task.attempt, at, progress };
    const event: TaskProgressEvent = { ...fields, kind: PROGRESS_EVENT_KIND };
    const transient = { contentType: TASK_CONTENT_TYPE, deliveryMode: 1 };
    channel.basicPublish(TASK_EVENTS_EXCHANGE, `${PROGRESS_EVENT_KIND}.${task.name}`, JSON.stringify(event), transient).catch(() => undefined);
    const replyTo = message.properties.replyTo;
    if (replyTo === undefined || replyTo === '') return;
    const properties = { ...transient, type: PROGRESS_MESSAGE_TYPE, correlationId: replyCorrelationId(message, task) };
    channel.basicPublish('', replyTo, JSON.stringify(fields), properties).catch(() => undefined);
  };
}

/** The correlation_id of whatever goes to a task's reply_to: the submitter's choice, or the task id. */
export function replyCorrelationId(message: AMQPMessage, task: TaskHeaders): string {
  const chosen = message.properties.headers?.[TaskHeader.replyCorrelationId];
  return typeof chosen === 'string' && chosen !== '' ? chosen : task.id;
}
