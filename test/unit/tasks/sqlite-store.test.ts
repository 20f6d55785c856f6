/** The SQLite result store runs the conformance suite on a file and in memory, plus its own details. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteResultStore, openResultStore } from '../../../src/tasks/store/index.js';
import { resultStoreConformance } from './result-store-conformance.js';
import { taskEvent } from './task-events.js';

const directory = mkdtempSync(join(tmpdir(), 'warren-sqlite-store-'));
let files = 0;
after(() => rmSync(directory, { recursive: true, force: true }));

/** A new file path in the test directory (in a subfolder the store has to create). */
function newFile(): string {
  files += 1;
  return join(directory, `store-${files}`, 'tasks.sqlite');
}

resultStoreConformance({
  name: 'SQLite file',
  newLocation: async () => newFile(),
  open: async (location) => new SqliteResultStore(location),
  persistent: true,
  skip: false,
});

resultStoreConformance({
  name: 'SQLite in memory, through openResultStore',
  newLocation: async () => 'sqlite::memory:',
  open: (location) => openResultStore(location),
  persistent: false,
  skip: false,
});

test('the store is a WAL-mode SQLite file with a tasks table', async () => {
  const path = newFile();
  const store = await openResultStore(`sqlite:${path}`);
  await store.apply(taskEvent('queued', 't1'));
  await store.close();
  const db = new Database(path, { readonly: true });
  try {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.deepEqual(db.prepare('SELECT id, state FROM tasks').all(), [{ id: 't1', state: 'queued' }]);
  } finally {
    db.close();
  }
  // Another process (a second keeper) may use the same file, here with the lighter durability setting.
  const second = new SqliteResultStore(path, { synchronous: 'NORMAL' });
  assert.equal((await second.get('t1'))?.state, 'queued');
  await second.close();
});

test('applies waiting when the store closes are committed first; later ones are refused', async () => {
  const path = newFile();
  const store = new SqliteResultStore(path);
  const pending = store.apply(taskEvent('queued', 't1', { payload: 'p' }));
  await store.close();
  assert.equal((await pending).state, 'queued');
  await assert.rejects(store.apply(taskEvent('started', 't1')), /closed/);
  const reopened = new SqliteResultStore(path);
  assert.equal((await reopened.get('t1'))?.payload, 'p');
  await reopened.close();
});

test('a newer schema version is refused', async () => {
  const path = newFile();
  await new SqliteResultStore(path).close();
  const db = new Database(path);
  db.pragma('user_version = 99');
  db.close();
  assert.throws(() => new SqliteResultStore(path), /schema version 99/);
});
