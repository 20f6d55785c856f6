/**
 * Result stores: where the keeper records tasks and their events. openResultStore picks the
 * implementation from a URL, so configuration is one string.
 */
import { PostgresResultStore } from './postgres-store.js';
import type { ResultStore } from './result-store.js';
import { SqliteResultStore } from './sqlite-store.js';

export { applyEvent } from './apply-event.js';
export { PostgresResultStore, type PostgresResultStoreOptions } from './postgres-store.js';
export type { ResultStore, TaskQuery, TaskRecord } from './result-store.js';
export { SqliteResultStore, type SqliteResultStoreOptions, type SqliteSynchronous } from './sqlite-store.js';
export { ThreadedResultStore } from './threaded-store.js';
export { TASK_LIST_LIMIT_DEFAULT, TASK_LIST_LIMIT_MAX } from './task-rows.js';

/**
 * Opens the store `url` names: postgres:// or postgresql:// -> PostgreSQL; otherwise a SQLite file
 * path, with or without a 'sqlite:' prefix ('sqlite::memory:' or ':memory:' for a store in memory).
 */
export async function openResultStore(url: string): Promise<ResultStore> {
  if (/^postgres(ql)?:\/\//i.test(url)) return PostgresResultStore.open(url);
  return new SqliteResultStore(url.replace(/^sqlite:(\/\/)?/i, ''));
}
