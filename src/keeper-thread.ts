/**
 * The worker-thread side of ThreadedKeeper (threaded-keeper.ts): the node's result keeper, with its own
 * AMQP connection and its SQLite store, runs here so that consuming and recording task events, and the
 * store's commits, never take the broker's event loop. It answers the calls the main thread posts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { taskView } from './http/task-view.js';
import { startKeeper, type Keeper } from './tasks/keeper.js';
import { SqliteResultStore } from './tasks/store/sqlite-store.js';
import type { TaskEvent } from './tasks/protocol.js';
import type { TaskQuery } from './tasks/store/result-store.js';
import { createLogger } from './util/logger.js';
import { threadErrorOf } from './util/pending-calls.js';
import type { KeeperThreadCall, KeeperThreadData, KeeperThreadMessage } from './threaded-keeper.js';

const port = parentPort;
if (port === null) throw new Error('keeper-thread.ts runs only as a worker thread');
const data = workerData as KeeperThreadData;
const logger = createLogger(data.logLevel);
const store = new SqliteResultStore(data.storePath);

let keeper: Keeper & { history(id: string): Promise<TaskEvent[]> };
try {
  keeper = (await startKeeper({
    url: data.url,
    store,
    logger,
    ...(data.retentionMs === undefined ? {} : { retentionMs: data.retentionMs }),
    webhooks: { signingKey: Buffer.from(data.signingKey), view: taskView, ...(data.webhookPolicy === undefined ? {} : { policy: data.webhookPolicy }) },
  })) as typeof keeper;
} catch (error) {
  await store.close().catch(() => undefined);
  post({ kind: 'failed', error: threadErrorOf(error) });
  process.exit(1);
}
post({ kind: 'ready' });

port.on('message', (call: KeeperThreadCall) => {
  invoke(call).then(
    (result) => post({ kind: 'answer', id: call.id, result }),
    (error: unknown) => post({ kind: 'answer', id: call.id, error: threadErrorOf(error) }),
  );
});

async function invoke(call: KeeperThreadCall): Promise<unknown> {
  switch (call.method) {
    case 'get': return keeper.get(call.argument as string);
    case 'list': return keeper.list(call.argument as TaskQuery);
    case 'retry': return keeper.retry(call.argument as string);
    case 'cancel': return keeper.cancel(call.argument as string);
    case 'history': return keeper.history(call.argument as string);
    case 'stats': return keeper.stats();
    case 'metrics': return keeper.metrics();
    case 'close':
      await keeper.close();
      await store.close();
      return undefined;
  }
}

function post(message: KeeperThreadMessage): void {
  port?.postMessage(message);
}
