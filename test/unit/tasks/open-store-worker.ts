/**
 * A worker thread for sqlite-store.test.ts: opens a SqliteResultStore on workerData.path as soon as
 * every thread of the race is ready (a shared counter), and posts 'ok' or the error it got.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteResultStore } from '../../../src/tasks/store/sqlite-store.js';

const { path, ready, threads } = workerData as { path: string; ready: Int32Array; threads: number };
Atomics.add(ready, 0, 1);
// A spin, not Atomics.wait: the threads must leave it within microseconds of each other to race.
while (Atomics.load(ready, 0) < threads) continue;
try {
  const store = new SqliteResultStore(path);
  await store.close();
  parentPort?.postMessage('ok');
} catch (error) {
  parentPort?.postMessage(`${(error as Error).message} (${String((error as { code?: unknown }).code)})`);
}
