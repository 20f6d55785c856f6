/**
 * What arrives on a client's reply queue, routed by correlation_id: keeper replies (correlation_id =
 * the request's id) settle the request waiting for them; task replies (correlation_id = task id) are
 * kept, a bounded number of them, for handle.result() calls made now or later. A task reply that no
 * result() call waits for yet is kept as its body and parsed only when asked for: most submitters
 * never ask for most results.
 */
import type { AMQPMessage } from '@cloudamqp/amqp-client';
import type { Logger } from '../util/logger.js';
import type { ClientLink } from './client-link.js';
import type { KeeperReply } from './keeper-protocol.js';
import { TASK_PROTOCOL_VERSION, TASK_REPLY_TYPE, type TaskReply } from './protocol.js';
import { KeeperRequestError } from './task-errors.js';
import { ProgressListeners } from './client-progress.js';
import { PROGRESS_MESSAGE_TYPE } from './task-progress.js';
import { parseJsonBody } from './task-message.js';
import { RecentMap } from '../util/recent-map.js';

/** Task replies kept for result() calls not made yet; older ones are dropped (result() then asks the keeper). */
export const KEPT_REPLIES_MAX = 10_000;

interface PendingRequest {
  settle(reply: KeeperReply): void;
}

/** Routes reply-queue messages of one TasksClient. */
export class ReplyRouter {
  /** Task replies by task id: parsed, or still the message body (see the file comment). */
  private readonly replies = new RecentMap<string, TaskReply | Uint8Array>(KEPT_REPLIES_MAX);
  private readonly waiters = new Map<string, Set<(reply: TaskReply) => void>>();
  private readonly requests = new Map<string, PendingRequest>();
  /** Tasks retried through this client since they were submitted: their replies will not come again. */
  private readonly retried = new Set<string>();
  /** Listeners of progress messages (AMQP type 'progress') arriving on the reply queue. */
  readonly progress: ProgressListeners;

  constructor(private readonly logger: Logger) {
    this.progress = new ProgressListeners(logger);
  }

  /** Handles one message from a reply queue. */
  readonly deliver = (message: AMQPMessage): void => {
    const { correlationId, type } = message.properties;
    const { body: raw } = message;
    // A worker's reply (type 'result') for a task nobody waits for (yet), and the first for it: kept
    // unparsed. Anything else is parsed now: a second reply for a task (a malformed one must not
    // displace a good one), and a keeper's answer that came after its request gave up (dropped, so it
    // takes no place among the kept replies).
    if (
      correlationId !== undefined &&
      type === TASK_REPLY_TYPE &&
      raw !== null &&
      raw.length > 0 &&
      !this.requests.has(correlationId) &&
      !this.waiters.has(correlationId) &&
      !this.replies.has(correlationId)
    ) {
      this.keep(correlationId, raw);
      return;
    }
    let body: unknown;
    try {
      body = parseJsonBody(message.body);
    } catch (error) {
      this.logger.warn({ correlationId, err: (error as Error).message }, 'dropped a reply that is not JSON');
      return;
    }
    if (correlationId === undefined) {
      this.logger.warn({}, 'dropped a reply without correlation_id');
      return;
    }
    if (message.properties.type === PROGRESS_MESSAGE_TYPE) return this.progress.deliver(body);
    const request = this.requests.get(correlationId);
    if (request !== undefined) request.settle(isKeeperReply(body) ? body : malformedKeeperReply);
    else if (isTaskReply(body)) this.keepReply(correlationId, body);
    else this.logger.warn({ correlationId }, 'dropped a reply that is neither a task reply nor an awaited keeper reply');
  };

  /** The reply received for task `id`, if it is still kept. */
  reply(id: string): TaskReply | undefined {
    const kept = this.replies.get(id);
    return kept instanceof Uint8Array ? this.parseKept(id, kept) : kept;
  }

  /** A kept body parsed: kept in its place when it is a task reply, dropped (as deliver() would have) when not. */
  private parseKept(id: string, body: Uint8Array): TaskReply | undefined {
    let reply: unknown;
    try {
      reply = parseJsonBody(body);
    } catch (error) {
      this.logger.warn({ correlationId: id, err: (error as Error).message }, 'dropped a reply that is not JSON');
      this.replies.delete(id);
      return undefined;
    }
    if (!isTaskReply(reply)) {
      this.logger.warn({ correlationId: id }, 'dropped a reply that is neither a task reply nor an awaited keeper reply');
      this.replies.delete(id);
      return undefined;
    }
    this.replies.set(id, reply);
    return reply;
  }

  /** Drops task `id`'s reply and notes that no reply will come for it (it was retried: a new run). */
  forget(id: string): void {
    this.replies.delete(id);
    this.retried.add(id);
    if (this.retried.size > KEPT_REPLIES_MAX) {
      const oldest = this.retried.values().next();
      if (oldest.done !== true) this.retried.delete(oldest.value);
    }
  }

  /** True when task `id` was retried through this client (see forget). */
  wasRetried(id: string): boolean {
    return this.retried.has(id);
  }

  /**
   * Waits for task `id`'s reply on `link`'s reply queue. Resolves undefined when the link is lost (the
   * reply can no longer come); rejects with the signal's reason when `signal` aborts.
   */
  waitForReply(id: string, link: ClientLink, signal: AbortSignal): Promise<TaskReply | undefined> {
    return new Promise((resolve, reject) => {
      const kept = this.reply(id);
      if (kept !== undefined) return resolve(kept);
      if (signal.aborted) return reject(signal.reason);
      const waiters = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, waiters);
      const stop = (): void => {
        waiters.delete(onReply);
        if (waiters.size === 0) this.waiters.delete(id);
        stopWatchingLink();
        signal.removeEventListener('abort', onAbort);
      };
      const onReply = (reply: TaskReply): void => {
        stop();
        resolve(reply);
      };
      const onAbort = (): void => {
        stop();
        reject(signal.reason);
      };
      const stopWatchingLink = link.onLost(() => {
        stop();
        resolve(undefined);
      });
      waiters.add(onReply);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Waits for the keeper's reply to request `correlationId` sent over `link`: rejects with
   * KeeperRequestError('unavailable') after `timeoutMs` or when the link is lost, and with the signal's
   * reason when `signal` aborts.
   */
  expectKeeperReply(correlationId: string, link: ClientLink, timeoutMs: number, signal?: AbortSignal): Promise<KeeperReply> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const finish = (): void => {
        this.requests.delete(correlationId);
        clearTimeout(timer);
        stopWatchingLink();
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (error: unknown): void => {
        finish();
        reject(error);
      };
      const onAbort = (): void => fail(signal?.reason);
      const timer = setTimeout(
        () => fail(new KeeperRequestError('unavailable', `no result keeper answered within ${timeoutMs} ms (is one running?)`)),
        timeoutMs,
      );
      const stopWatchingLink = link.onLost(() =>
        fail(new KeeperRequestError('unavailable', 'the connection was lost before a result keeper answered')),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.requests.set(correlationId, {
        settle: (reply) => {
          finish();
          resolve(reply);
        },
      });
    });
  }

  /** Forgets a keeper request that was never sent. */
  cancelRequest(correlationId: string, error: unknown): void {
    const pending = this.requests.get(correlationId);
    this.requests.delete(correlationId);
    pending?.settle({ ok: false, error: { code: 'internal', message: String(error) } });
  }

  /** Settles task `id` as if its reply had come (a cancel through this client: no worker may ever reply). */
  settle(id: string, reply: TaskReply): void {
    this.keepReply(id, reply);
  }

  private keepReply(id: string, reply: TaskReply): void {
    this.keep(id, reply);
    const waiters = this.waiters.get(id);
    if (waiters === undefined) return;
    for (const waiter of [...waiters]) waiter(reply);
  }

  /** Keeps a reply (parsed or not); the oldest goes past KEPT_REPLIES_MAX. */
  private keep(id: string, reply: TaskReply | Uint8Array): void {
    this.replies.set(id, reply);
  }
}

const malformedKeeperReply: KeeperReply = { ok: false, error: { code: 'internal', message: 'the keeper sent a malformed reply' } };

function isKeeperReply(value: unknown): value is KeeperReply {
  if (typeof value !== 'object' || value === null) return false;
  const reply = value as { ok?: unknown; error?: { code?: unknown; message?: unknown } };
  if (reply.ok === true) return true;
  return reply.ok === false && typeof reply.error?.code === 'string' && typeof reply.error.message === 'string';
}

function isTaskReply(value: unknown): value is TaskReply {
  if (typeof value !== 'object' || value === null) return false;
  const reply = value as Partial<TaskReply>;
  const state = reply.state as string | undefined;
  return (
    reply.protocol === TASK_PROTOCOL_VERSION &&
    typeof reply.id === 'string' &&
    (state === 'succeeded' || state === 'failed' || state === 'dead' || state === 'cancelled')
  );
}
