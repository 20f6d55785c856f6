/**
 * The worker's side of cancellation: an exclusive, auto-delete queue bound to the control exchange for
 * each handled task name brings cancel notices; a notice aborts the matching attempts this worker holds
 * (ctx.signal, reason TaskCancelledError) and is remembered (bounded, for CANCELLED_REMEMBER_MS) so the
 * task is skipped should it be delivered later. A worker that starts after a notice cannot have seen
 * it: before it consumes, it asks a keeper (if one runs) for the tasks of its names cancelled within
 * CANCELLED_REMEMBER_MS, and should one still slip through, the keeper sends the notice again when the
 * worker reports the attempt 'started'.
 */
import type { AMQPChannel, AMQPMessage } from '@cloudamqp/amqp-client';
import type { Logger } from '../util/logger.js';
import { randomUUID } from 'node:crypto';
import { KEEPER_REQUESTS_QUEUE, TASK_CONTENT_TYPE, TASK_PROTOCOL_VERSION, TASK_REPLY_TYPE, type TaskReply } from './protocol.js';
import {
  CANCELLED_REMEMBER_MS,
  TASK_CONTROL_EXCHANGE,
  TaskCancelledError,
  cancelRoutingKey,
  cancelledTaskError,
  declareControlExchange,
  parseCancelNotice,
  type CancelNotice,
} from './task-cancellation.js';
import { jsonMessage, parseJsonBody } from './task-message.js';
import type { TaskAttempt } from './worker-attempt.js';
import type { TaskHeaders } from './worker-message.js';
import { replyCorrelationId } from './worker-progress.js';

/** Cancelled tasks a worker remembers at most (the oldest are forgotten first). */
export const CANCELLED_REMEMBERED_MAX = 10_000;

/** How long a worker that starts waits for a keeper's list of recently cancelled tasks before it consumes. */
export const CANCELLED_CATCH_UP_TIMEOUT_MS = 2000;

/** Cancelled tasks this worker heard of, and the running attempts they abort. */
export class WorkerCancellations {
  /** Task id -> the newest cancelled run and when the notice expires. */
  private readonly cancelled = new Map<string, { run: number; expiresAt: number }>();
  /** The keeper request sent at start, answered on the control queue. */
  private catchUp: { correlationId: string; answered: () => void } | undefined;

  constructor(
    /** The attempts the worker holds now (running or waiting for a handler slot). */
    private readonly attempts: () => Iterable<TaskAttempt>,
    private readonly logger: Logger | undefined,
  ) {}

  /**
   * Declares the control exchange and a queue of this worker's own bound for `taskNames`, consumes it,
   * and learns from a keeper which of those tasks were cancelled lately (see the file comment).
   */
  async listen(channel: AMQPChannel, taskNames: Iterable<string>): Promise<void> {
    const names = [...taskNames];
    await declareControlExchange(channel);
    const { name } = await channel.queueDeclare('', { durable: false, exclusive: true, autoDelete: true });
    for (const taskName of names) await channel.queueBind(name, TASK_CONTROL_EXCHANGE, cancelRoutingKey(taskName));
    await channel.basicConsume(name, { noAck: true, exclusive: true }, (message) => this.onMessage(message));
    await this.catchUpWithKeeper(channel, name, names);
  }

  /** Asks a keeper for the runs of `names` cancelled lately, answered to the control queue; waits a bounded time. */
  private async catchUpWithKeeper(channel: AMQPChannel, replyTo: string, names: string[]): Promise<void> {
    // No keeper consumes requests: none can answer, and no task could have been cancelled through one lately.
    const { consumerCount } = await channel.queueDeclare(KEEPER_REQUESTS_QUEUE, { durable: true });
    if (consumerCount === 0) return;
    const correlationId = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<void>((resolve) => {
      this.catchUp = { correlationId, answered: resolve };
      timer = setTimeout(resolve, CANCELLED_CATCH_UP_TIMEOUT_MS);
    });
    const request = jsonMessage({ op: 'cancelled', names }, { deliveryMode: 1, replyTo, correlationId, expiration: String(CANCELLED_CATCH_UP_TIMEOUT_MS) });
    await channel.basicPublish('', KEEPER_REQUESTS_QUEUE, request.body, request.properties);
    await answered;
    clearTimeout(timer);
    this.catchUp = undefined;
  }

  /** A message on the control queue: the keeper's answer to the catch-up request, or a cancel notice. */
  private onMessage(message: AMQPMessage): void {
    const catchUp = this.catchUp;
    if (catchUp !== undefined && message.properties.correlationId === catchUp.correlationId) {
      this.onCatchUpAnswer(message);
      catchUp.answered();
      return;
    }
    this.onNotice(message);
  }

  private onCatchUpAnswer(message: AMQPMessage): void {
    let runs: unknown;
    try {
      runs = (parseJsonBody(message.body) as { cancelled?: unknown } | null)?.cancelled;
    } catch {
      runs = undefined;
    }
    if (!Array.isArray(runs)) {
      this.logger?.warn({}, 'the keeper did not list recently cancelled tasks');
      return;
    }
    const now = Date.now();
    for (const run of runs as unknown[]) {
      const { id, run: number } = (run ?? {}) as { id?: unknown; run?: unknown };
      if (typeof id === 'string' && typeof number === 'number' && Number.isInteger(number)) this.remember(id, number, now);
    }
  }

  /** True when run `task.run` of the task was cancelled (as far as this worker heard). */
  isCancelled(task: Pick<TaskHeaders, 'id' | 'run'>): boolean {
    const entry = this.cancelled.get(task.id);
    if (entry === undefined) return false;
    if (entry.expiresAt <= Date.now()) {
      this.cancelled.delete(task.id);
      return false;
    }
    return task.run <= entry.run;
  }

  /** Handles one message of the control queue; anything that is not a cancel notice is dropped. */
  private onNotice(message: AMQPMessage): void {
    let notice: CancelNotice | undefined;
    try {
      notice = parseCancelNotice(parseJsonBody(message.body));
    } catch {
      notice = undefined;
    }
    if (notice === undefined) {
      this.logger?.warn({ routingKey: message.routingKey }, 'dropped a malformed cancel notice');
      return;
    }
    this.remember(notice.id, notice.run, Date.now());
    for (const attempt of this.attempts()) {
      if (attempt.task.id === notice.id && attempt.task.run <= notice.run && attempt.cancel(new TaskCancelledError(notice.id))) {
        this.logger?.info({ task: notice.name, id: notice.id, attempt: attempt.task.attempt }, 'running task cancelled');
      }
    }
  }

  /** Remembers that run `run` (and older runs) of task `id` were cancelled; the newest entries are kept. */
  private remember(id: string, run: number, now: number): void {
    const known = this.cancelled.get(id);
    this.cancelled.delete(id);
    this.cancelled.set(id, { run: Math.max(run, known?.run ?? 0), expiresAt: now + CANCELLED_REMEMBER_MS });
    if (this.cancelled.size > CANCELLED_REMEMBERED_MAX) {
      const oldest = this.cancelled.keys().next();
      if (oldest.done !== true) this.cancelled.delete(oldest.value);
    }
  }
}

/** Publishes the reply of a cancelled attempt when the task has a reply_to (no event: the keeper recorded the cancel). */
export async function replyCancelled(channel: AMQPChannel, message: AMQPMessage, task: TaskHeaders): Promise<void> {
  const replyTo = message.properties.replyTo;
  if (replyTo === undefined || replyTo === '') return;
  const reply: TaskReply = { protocol: TASK_PROTOCOL_VERSION, id: task.id, name: task.name, state: 'cancelled', attempt: task.attempt, error: cancelledTaskError() };
  const properties = { contentType: TASK_CONTENT_TYPE, type: TASK_REPLY_TYPE, correlationId: replyCorrelationId(message, task) };
  await channel.basicPublish('', replyTo, JSON.stringify(reply), properties);
}
