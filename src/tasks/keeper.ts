/**
 * The result keeper: records every task state event in a ResultStore, answers get/list/retry
 * requests over AMQP (and as methods, for callers in the same process), and deletes finished tasks
 * after the retention period. It reconnects by itself when the connection is lost.
 */
import type { AMQPChannel, AMQPClient, AMQPMessage } from '@cloudamqp/amqp-client';
import type { Logger } from '../util/logger.js';
import { openAmqpConnection, silentLogger, sleep } from './amqp-connection.js';
import { errorReply, parseKeeperRequest, parseTaskQuery, type KeeperReply, type KeeperRequest } from './keeper-protocol.js';
import { retryTask } from './keeper-retry.js';
import { cancelTask, publishCancelNotice, recentlyCancelled } from './keeper-cancel.js';
import { declareControlExchange } from './task-cancellation.js';
import { KEEPER_QUEUE, KEEPER_REQUESTS_QUEUE, taskQueueName, type TaskEvent } from './protocol.js';
import { TaskStats, type TaskNameStats } from './task-stats.js';
import type { TaskNameMetrics } from './task-metrics.js';
import { consumerBlockedReason, timedBlockedReason } from './blocked-reason.js';
import type { ResultStore, TaskQuery, TaskRecord } from './store/result-store.js';
import { KeeperRequestError } from './task-errors.js';
import { BatchedAcks } from './batched-acks.js';
import { KeeperEvents } from './keeper-events.js';
import { jsonMessage, parseJsonBody } from './task-message.js';
import { declareEventTopology, declareKeeperRequestsQueue } from './topology.js';
import { WebhookDispatcher, type WebhookOptions } from './webhooks/webhook-dispatcher.js';
import { systemClock, type Clock } from './clock.js';
import { KeeperScheduling, submitSlotTask } from './keeper-scheduling.js';
import { ScheduleRunner } from './schedule-runner.js';

/** Options of startKeeper. */
export interface KeeperOptions {
  url: string;
  /** Where records go; the keeper does not close it. */
  store: ResultStore;
  /** How long finished tasks are kept (default 7 days). */
  retentionMs?: number;
  /** How often finished tasks past retention are deleted (default every minute). */
  retentionCheckIntervalMs?: number;
  /** Unacknowledged events (default 500) and requests (default 100) the broker may send at once. */
  prefetch?: number;
  logger?: Logger;
  /** Webhooks of tasks submitted with a callbackUrl: signing key, retry policy, payload view. */
  webhooks?: WebhookOptions;
  /** Time for schedules and idempotency windows (default: the system clock); tests pass a controllable one. */
  clock?: Clock;
  /** How long an idempotency key returns its task (default 24 h). */
  idempotencyWindowMs?: number;
  /** Longest pause between two reads of the schedules, to learn those defined through another keeper (default 5000 ms). */
  schedulePollIntervalMs?: number;
  /** How long a keeper's claimed slot is its own to submit before another keeper takes it over (default 60000 ms). */
  scheduleClaimLeaseMs?: number;
}

/** A running result keeper. */
export interface Keeper {
  /** The record of task `id`, or undefined. */
  get(id: string): Promise<TaskRecord | undefined>;
  /** Records matching `query`, newest first (throws KeeperRequestError 'bad_request' on a bad query). */
  list(query: TaskQuery): Promise<TaskRecord[]>;
  /** Re-queues a failed or dead task for a new run (KeeperRequestError 'not_found' or 'conflict' otherwise). */
  retry(id: string): Promise<TaskRecord>;
  /** Cancels a queued or running task (KeeperRequestError 'not_found', or 'conflict' when it is already finished). */
  cancel(id: string): Promise<TaskRecord>;
  /** Per task name: throughput, response time and latency of the tasks finished since the keeper started. */
  stats(): Record<string, TaskNameStats>;
  /** The webhook secret (`whsec_...`) of the endpoint `callbackUrl` belongs to; TaskValidationError on a bad URL. */
  webhookSecret(callbackUrl: string): string;
  /** Per task name: cumulative counts by final state and latency histograms (Prometheus `/metrics`). */
  metrics(): Map<string, TaskNameMetrics>;
  /** Stops consuming, lets the event being recorded finish, and disconnects (the store stays open). */
  close(): Promise<void>;
}

/** Starts a keeper; resolves once it consumes events and requests. */
export async function startKeeper(options: KeeperOptions): Promise<Keeper> {
  const keeper = new KeeperService(options);
  await keeper.connect();
  keeper.startRetention();
  keeper.webhooks.start();
  await keeper.startSchedules();
  return keeper;
}

const RETENTION_DEFAULT_MS = 7 * 24 * 60 * 60 * 1000;
const RETENTION_CHECK_DEFAULT_MS = 60_000;
/** Events applied at once: enough for the store to commit hundreds per transaction. */
const EVENTS_PREFETCH_DEFAULT = 500;
/**
 * At most this share of the events prefetch is messages whose 'queued' events the store may hold back
 * (KeeperEvents' waitingMessagesMax), so the rest always has room for the outcomes that release them.
 */
const WAITING_SHARE_OF_PREFETCH = 0.25;
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5000;

/** One connection's channels: events in one, requests and retries (confirm mode) in the other. */
interface KeeperLink {
  connection: AMQPClient;
  events: AMQPChannel;
  /** The events channel's acknowledgements, sent in batches. */
  eventAcks: BatchedAcks;
  operations: AMQPChannel;
}

class KeeperService implements Keeper {
  private readonly store: ResultStore;
  private readonly logger: Logger;
  private link: KeeperLink | undefined;
  private closed = false;
  private readonly closing = new AbortController();
  /** Records the messages of the events queue. */
  private readonly events: KeeperEvents;
  /** Retries run one at a time: each holds dead-letter messages while it looks for its own. */
  private retrying: Promise<unknown> = Promise.resolve();
  private retentionTimer: NodeJS.Timeout | undefined;
  private readonly taskStats = new TaskStats();
  /** Sends the webhooks of finished tasks. */
  readonly webhooks: WebhookDispatcher;
  private readonly scheduleRunner: ScheduleRunner;
  private readonly scheduling: KeeperScheduling;

  constructor(private readonly options: KeeperOptions) {
    this.store = options.store;
    this.logger = (options.logger ?? silentLogger).child({ component: 'task-keeper' });
    this.webhooks = new WebhookDispatcher(options.store.webhooks, options.webhooks ?? {}, this.logger);
    this.events = new KeeperEvents({
      store: this.store, taskStats: this.taskStats, webhooks: this.webhooks, logger: this.logger, closing: this.closing.signal,
      renotifyCancel: (record) => this.renotifyCancel(record),
      waitingMessagesMax: Math.floor((options.prefetch ?? EVENTS_PREFETCH_DEFAULT) * WAITING_SHARE_OF_PREFETCH),
    });
    const clock = options.clock ?? systemClock;
    this.scheduleRunner = new ScheduleRunner({
      store: this.store.scheduling, clock, logger: this.logger,
      submit: (schedule, slot) => {
        const link = this.link;
        if (link === undefined) return Promise.reject(new Error('the keeper is not connected to the broker'));
        return submitSlotTask(link.operations, schedule, slot, clock.now());
      },
      ...(options.schedulePollIntervalMs === undefined ? {} : { pollIntervalMs: options.schedulePollIntervalMs }),
      ...(options.scheduleClaimLeaseMs === undefined ? {} : { claimLeaseMs: options.scheduleClaimLeaseMs }),
    });
    this.scheduling = new KeeperScheduling({
      store: this.store.scheduling, clock, runner: this.scheduleRunner,
      ...(options.idempotencyWindowMs === undefined ? {} : { idempotencyWindowMs: options.idempotencyWindowMs }),
    });
  }

  /** Starts firing schedules: a first pass now (a slot missed while no keeper ran fires here), then on time. */
  startSchedules(): Promise<void> {
    return this.scheduleRunner.wake();
  }

  /** The record of task `id`, with the reason it is not running when it is queued. */
  async get(id: string): Promise<TaskRecord | undefined> {
    const stored = await this.store.get(id);
    const record = stored === undefined ? undefined : await this.webhooks.withStatus(stored);
    if (record === undefined || record.state !== 'queued') return record;
    const blockedReason = timedBlockedReason(record, Date.now()) ?? (await this.consumersOf(record.name).then(consumerBlockedReason, () => undefined));
    return blockedReason === undefined ? record : { ...record, blockedReason };
  }

  /** Consumers of a task name's work queue, by a passive declare on a channel of its own (a 404 closes it). */
  private async consumersOf(name: string): Promise<number> {
    const link = this.link;
    if (link === undefined) throw new Error('the keeper is not connected');
    const channel = await link.connection.channel();
    try {
      return (await channel.queueDeclare(taskQueueName(name), { passive: true })).consumerCount;
    } catch {
      return 0;
    } finally {
      await channel.close().catch(() => {});
    }
  }

  stats(): Record<string, TaskNameStats> {
    return this.taskStats.snapshot();
  }

  webhookSecret(callbackUrl: string): string {
    return this.webhooks.secretFor(callbackUrl);
  }

  metrics(): Map<string, TaskNameMetrics> {
    return this.taskStats.cumulative.snapshot();
  }

  async list(query: TaskQuery): Promise<TaskRecord[]> {
    return this.store.list(parseTaskQuery(query));
  }

  /** Every state event recorded for task `id`, oldest first (empty when the task is unknown). */
  history(id: string): Promise<TaskEvent[]> {
    return this.store.history(id);
  }

  retry(id: string): Promise<TaskRecord> {
    const run = this.retrying.then(() => {
      const link = this.link;
      if (link === undefined) throw new KeeperRequestError('internal', 'the keeper is not connected to the broker');
      return retryTask({ store: this.store, channel: link.operations, logger: this.logger }, id);
    });
    this.retrying = run.catch(() => {});
    return run;
  }

  /** Cancels run one after another (with retries), so two cancels of one task cannot both pass the check. */
  cancel(id: string): Promise<TaskRecord> {
    const run = this.retrying.then(() => {
      const link = this.link;
      if (link === undefined) throw new KeeperRequestError('internal', 'the keeper is not connected to the broker');
      return cancelTask({ store: this.store, channel: link.operations, logger: this.logger }, id);
    });
    this.retrying = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort(new Error('the keeper is closing'));
    clearInterval(this.retentionTimer);
    await this.webhooks.close();
    await this.scheduleRunner.stop();
    const link = this.link;
    this.link = undefined;
    if (link === undefined) return;
    // Cancel the consumers first so the event being recorded can still be acknowledged.
    await Promise.all([...link.events.consumers.values(), ...link.operations.consumers.values()].map((c) => c.cancel().catch(() => {})));
    await this.events.idle();
    await link.eventAcks.flush();
    await this.retrying;
    await link.connection.close().catch(() => {});
  }

  /** Connects, declares what the keeper consumes, and starts both consumers. */
  async connect(): Promise<void> {
    const connection = await openAmqpConnection(this.options.url, 'warren task keeper', this.logger);
    try {
      const events = await connection.channel();
      await declareEventTopology(events);
      await events.prefetch(this.options.prefetch ?? EVENTS_PREFETCH_DEFAULT);
      const operations = await connection.channel();
      await operations.confirmSelect();
      await declareKeeperRequestsQueue(operations);
      await declareControlExchange(operations);
      await operations.prefetch(this.options.prefetch ?? 100);
      const link: KeeperLink = { connection, events, eventAcks: new BatchedAcks(events), operations };
      connection.ondisconnect = () => this.linkLost(link);
      events.onerror = (reason) => this.channelLost(link, reason);
      operations.onerror = (reason) => this.channelLost(link, reason);
      this.link = link;
      await events.basicConsume(KEEPER_QUEUE, { noAck: false }, (message) => this.events.record(link.eventAcks, message));
      await operations.basicConsume(KEEPER_REQUESTS_QUEUE, { noAck: false }, (message) => this.serveRequest(link, message));
      this.logger.info({}, 'task keeper consuming');
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
  }

  /** Deletes finished tasks past retention now and then every retentionCheckIntervalMs. */
  startRetention(): void {
    const interval = this.options.retentionCheckIntervalMs ?? RETENTION_CHECK_DEFAULT_MS;
    void this.deleteExpired();
    this.retentionTimer = setInterval(() => void this.deleteExpired(), interval);
    this.retentionTimer.unref();
  }

  private async deleteExpired(): Promise<void> {
    const retentionMs = this.options.retentionMs ?? RETENTION_DEFAULT_MS;
    try {
      const deleted = await this.store.deleteFinishedBefore(Date.now() - retentionMs);
      if (deleted > 0) this.logger.info({ deleted }, 'deleted finished tasks past retention');
    } catch (error) {
      this.logger.error({ err: (error as Error).message }, 'deleting finished tasks failed');
    }
  }

  /** Sends a cancelled task's notice again (a worker started it after the first); never throws. */
  private renotifyCancel(record: TaskRecord): void {
    const link = this.link;
    if (link === undefined) return;
    publishCancelNotice(link.operations, record).catch((error: unknown) => this.logger.warn({ err: String(error) }, 'could not send a cancel notice again'));
  }

  /** Answers one request to its reply_to, then acknowledges it; never throws. */
  private async serveRequest(link: KeeperLink, message: AMQPMessage): Promise<void> {
    let reply: KeeperReply;
    try {
      reply = await this.answer(requestOf(message));
    } catch (error) {
      reply = errorReply(error);
      if (reply.ok === false && reply.error.code === 'internal') this.logger.error({ err: reply.error.message }, 'keeper request failed');
    }
    const { replyTo, correlationId } = message.properties;
    try {
      if (replyTo !== undefined && replyTo !== '') {
        const out = jsonMessage(reply, { deliveryMode: 1, ...(correlationId === undefined ? {} : { correlationId }) });
        await link.operations.basicPublish('', replyTo, out.body, out.properties);
      }
      await message.ack();
    } catch (error) {
      this.logger.debug({ err: (error as Error).message }, 'could not answer a keeper request');
    }
  }

  private async answer(request: KeeperRequest): Promise<KeeperReply> {
    switch (request.op) {
      case 'get': {
        const record = await this.get(request.id);
        return record === undefined ? { ok: true } : { ok: true, record };
      }
      case 'list':
        return { ok: true, records: await this.list(request.query) };
      case 'retry':
        return { ok: true, record: await this.retry(request.id) };
      case 'webhook-secret':
        return { ok: true, secret: this.webhookSecret(request.url) };
      case 'cancel':
        return { ok: true, record: await this.cancel(request.id) };
      case 'cancelled':
        return { ok: true, cancelled: await recentlyCancelled(this.store, request.names, Date.now()) };
      case 'claimIdempotencyKey':
      case 'releaseIdempotencyKey':
      case 'putSchedule':
      case 'listSchedules':
      case 'deleteSchedule':
        return { ok: true, ...(await this.scheduling.answer(request)) };
    }
  }

  private channelLost(link: KeeperLink, reason: string): void {
    this.logger.warn({ reason }, 'keeper channel closed; reconnecting');
    void link.connection.close().catch(() => {});
    this.linkLost(link);
  }

  private linkLost(link: KeeperLink): void {
    if (this.link !== link) return;
    this.link = undefined;
    if (!this.closed) void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    let pauseMs = RECONNECT_FIRST_MS;
    while (!this.closed) {
      try {
        await sleep(pauseMs, this.closing.signal);
        await this.connect();
        if (this.closed) await this.link?.connection.close().catch(() => {});
        return;
      } catch (error) {
        if (this.closed) return;
        this.logger.warn({ err: (error as Error).message, retryInMs: pauseMs }, 'keeper reconnect failed');
        pauseMs = Math.min(pauseMs * 2, RECONNECT_MAX_MS);
      }
    }
  }
}

/** The request in a message; a body that is not JSON is a bad request. */
function requestOf(message: AMQPMessage): KeeperRequest {
  let body: unknown;
  try {
    body = parseJsonBody(message.body);
  } catch (error) {
    throw new KeeperRequestError('bad_request', `a keeper request must be JSON: ${(error as Error).message}`);
  }
  return parseKeeperRequest(body);
}
