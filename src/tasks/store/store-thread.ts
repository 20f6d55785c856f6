/**
 * The worker-thread side of ThreadedResultStore: owns a SqliteResultStore and answers the calls the
 * main thread posts, so SQLite's work (and its fsync per commit) never blocks the main event loop.
 * Calls arrive in arrays (those of one turn of the main thread); answers go back in arrays too.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MessageBatcher } from './message-batcher.js';
import { SqliteResultStore, type SqliteResultStoreOptions } from './sqlite-store.js';
import { threadErrorOf } from '../../util/pending-calls.js';
import type { StoreCall, StoreAnswer, WebhookCall } from './threaded-store.js';
import type { ApplyOptions } from './result-store.js';
import type { NewWebhookDelivery, WebhookAttemptRecord, WebhookClaim, WebhookLease } from '../webhooks/webhook-delivery.js';

const { path, options } = workerData as { path: string; options: SqliteResultStoreOptions };
const store = new SqliteResultStore(path, options);
const port = parentPort;
if (port === null) throw new Error('store-thread.ts runs only as a worker thread');

const answers = new MessageBatcher<StoreAnswer>(
  (batch) => port.postMessage(batch),
  (answer, error) => answers.add({ id: answer.id, error: threadErrorOf(error) }),
);

port.on('message', (calls: StoreCall[]) => {
  for (const call of calls) {
    invoke(call).then(
      (result) => answers.add({ id: call.id, result }),
      (error: unknown) => answers.add({ id: call.id, error: threadErrorOf(error) }),
    );
  }
});

function invoke(call: StoreCall): Promise<unknown> {
  try {
    return invokeStore(call);
  } catch (error) {
    return Promise.reject(error);
  }
}

const MAY_WAIT: ApplyOptions = { mayWait: true };

function invokeStore(call: StoreCall): Promise<unknown> {
  switch (call.method) {
    case 'apply': return store.apply(call.argument, call.mayWait ? MAY_WAIT : undefined);
    case 'get': return store.get(call.argument);
    case 'list': return store.list(call.argument);
    case 'history': return store.history(call.argument);
    case 'deleteFinishedBefore': return store.deleteFinishedBefore(call.argument);
    case 'close': return store.close();
    case 'webhooks': return invokeWebhooks(call.argument);
    case 'recordProgress': return store.recordProgress(call.argument);
    case 'scheduling': {
      const { method, argument } = call.argument;
      return (store.scheduling[method] as (argument: unknown) => Promise<unknown>).call(store.scheduling, argument);
    }
  }
}

function invokeWebhooks({ operation, input }: WebhookCall): Promise<unknown> {
  switch (operation) {
    case 'add': return store.webhooks.add(input as NewWebhookDelivery);
    case 'claim': return store.webhooks.claim(input as WebhookClaim);
    case 'recordAttempt': return store.webhooks.recordAttempt(input as WebhookAttemptRecord);
    case 'release': return store.webhooks.release(input as WebhookLease);
    case 'latest': return store.webhooks.latest(input as string);
  }
}
