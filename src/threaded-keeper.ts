/**
 * The node's result keeper in a worker thread of its own (keeper-thread.ts). In-process, the keeper's
 * AMQP client (parsing every event the broker sends it), its JSON work and its store calls shared the
 * broker's event loop, which also serves every client; in a thread they run beside it. The HTTP
 * gateway and /metrics reach it through this proxy; webhook secrets are derived here from the same key.
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from './util/module-worker.js';
import type { WebhookDeliveryPolicy } from './tasks/webhooks/webhook-policy.js';
import { endpointSecret } from './tasks/webhooks/webhook-endpoint.js';
import { KeeperRequestError } from './tasks/task-errors.js';
import type { TaskEvent } from './tasks/protocol.js';
import type { TaskQuery, TaskRecord } from './tasks/store/result-store.js';
import type { TaskNameStats } from './tasks/task-stats.js';
import type { TaskNameMetrics } from './tasks/task-metrics.js';
import type { Logger } from './util/logger.js';
import { PendingCalls, type ThreadError } from './util/pending-calls.js';

/** What the thread starts with (structured-clone data only). */
export interface KeeperThreadData {
  url: string;
  storePath: string;
  retentionMs?: number;
  signingKey: Uint8Array;
  webhookPolicy?: Partial<WebhookDeliveryPolicy>;
  logLevel: string;
}

type KeeperMethod = 'get' | 'list' | 'retry' | 'cancel' | 'history' | 'stats' | 'metrics' | 'close';

/** A call posted to the thread. */
export interface KeeperThreadCall {
  id: number;
  method: KeeperMethod;
  argument?: unknown;
}

/** What the thread posts back. */
export type KeeperThreadMessage =
  | { kind: 'ready' }
  | { kind: 'failed'; error: ThreadError }
  | { kind: 'answer'; id: number; result?: unknown; error?: ThreadError };

/** The result keeper of `warren server`, running in a worker thread. */
export class ThreadedKeeper {
  private readonly pending = new PendingCalls();
  private closing = false;

  private constructor(
    private readonly worker: Worker,
    private readonly signingKey: Buffer,
    private readonly logger: Logger,
  ) {
    worker.on('message', (message: KeeperThreadMessage) => {
      if (message.kind === 'answer') this.settle(message);
    });
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', (code) => this.failAll(new Error(`task keeper thread exited (code ${code})`)));
  }

  /** Starts the thread; resolves once its keeper consumes events and requests. */
  static start(data: Omit<KeeperThreadData, 'signingKey'> & { signingKey: Buffer }, logger: Logger): Promise<ThreadedKeeper> {
    const workerData: KeeperThreadData = { ...data, signingKey: new Uint8Array(data.signingKey) };
    const worker = startModuleWorker(import.meta.url, 'keeper-thread', workerData);
    return new Promise((resolve, reject) => {
      const onMessage = (message: KeeperThreadMessage): void => {
        if (message.kind === 'answer') return;
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        if (message.kind === 'ready') resolve(new ThreadedKeeper(worker, data.signingKey, logger));
        else reject(deserializeError(message.error));
      };
      const onExit = (code: number): void => reject(new Error(`task keeper thread exited while starting (code ${code})`));
      worker.on('message', onMessage);
      worker.once('exit', onExit);
    });
  }

  get(id: string): Promise<TaskRecord | undefined> {
    return this.call('get', id) as Promise<TaskRecord | undefined>;
  }

  list(query: TaskQuery): Promise<TaskRecord[]> {
    return this.call('list', query) as Promise<TaskRecord[]>;
  }

  retry(id: string): Promise<TaskRecord> {
    return this.call('retry', id) as Promise<TaskRecord>;
  }

  cancel(id: string): Promise<TaskRecord> {
    return this.call('cancel', id) as Promise<TaskRecord>;
  }

  history(id: string): Promise<TaskEvent[]> {
    return this.call('history', id) as Promise<TaskEvent[]>;
  }

  stats(): Promise<Record<string, TaskNameStats>> {
    return this.call('stats') as Promise<Record<string, TaskNameStats>>;
  }

  metrics(): Promise<Map<string, TaskNameMetrics>> {
    return this.call('metrics') as Promise<Map<string, TaskNameMetrics>>;
  }

  /** The webhook secret of the endpoint `callbackUrl` belongs to (TaskValidationError on a bad URL). */
  webhookSecret(callbackUrl: string): string {
    return endpointSecret(this.signingKey, callbackUrl);
  }

  /** Stops the keeper (it finishes recording what it holds), closes its store, then ends the thread. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.pending.failure === undefined) await this.call('close');
    await this.worker.terminate();
  }

  private call(method: KeeperMethod, argument?: unknown): Promise<unknown> {
    const { id, answered } = this.pending.start();
    if (this.pending.failure === undefined) this.worker.postMessage({ id, method, argument } satisfies KeeperThreadCall);
    return answered;
  }

  private settle(answer: Extract<KeeperThreadMessage, { kind: 'answer' }>): void {
    if (answer.error === undefined) this.pending.resolve(answer.id, answer.result);
    else this.pending.reject(answer.id, deserializeError(answer.error));
  }

  private failAll(error: Error): void {
    if (this.pending.failAll(error) && !this.closing) {
      this.logger.error({ error: error.message }, 'the task keeper thread stopped: task results are no longer recorded on this node');
    }
  }
}

/** The error a thread reported, as the class callers check for (KeeperRequestError keeps its code). */
function deserializeError(error: ThreadError): Error {
  if (error.name === 'KeeperRequestError' && error.code !== undefined) {
    return new KeeperRequestError(error.code as KeeperRequestError['code'], error.message);
  }
  return Object.assign(new Error(error.message), { name: error.name });
}
