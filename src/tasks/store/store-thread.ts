/**
 * The worker-thread side of ThreadedResultStore: owns a SqliteResultStore and answers the calls the
 * main thread posts, so SQLite's work (and its fsync per commit) never blocks the main event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteResultStore, type SqliteResultStoreOptions } from './sqlite-store.js';
import type { StoreCall, StoreAnswer } from './threaded-store.js';

const { path, options } = workerData as { path: string; options: SqliteResultStoreOptions };
const store = new SqliteResultStore(path, options);
const port = parentPort;
if (port === null) throw new Error('store-thread.ts runs only as a worker thread');

port.on('message', (call: StoreCall) => {
  void answer(call).then((reply) => port.postMessage(reply));
});

async function answer(call: StoreCall): Promise<StoreAnswer> {
  try {
    const result = await invoke(call);
    return { id: call.id, result };
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    return { id: call.id, error: { name, message } };
  }
}

function invoke(call: StoreCall): Promise<unknown> {
  switch (call.method) {
    case 'apply': return store.apply(call.argument);
    case 'get': return store.get(call.argument);
    case 'list': return store.list(call.argument);
    case 'history': return store.history(call.argument);
    case 'deleteFinishedBefore': return store.deleteFinishedBefore(call.argument);
    case 'close': return store.close();
    default: return (store[call.method] as (argument: unknown) => Promise<unknown>)(call.argument);
  }
}
