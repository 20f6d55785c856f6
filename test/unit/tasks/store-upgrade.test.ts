/**
 * Stores written by a Warren from before progress existed (tasks tables without the progress columns)
 * gain the columns when opened, keep their records, and record progress from then on: SQLite, and
 * PostgreSQL on a private server (test/helpers/postgres.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { TASK_PROTOCOL_VERSION } from '../../../src/tasks/protocol.js';
import { PostgresResultStore, SqliteResultStore, type ResultStore } from '../../../src/tasks/store/index.js';
import { skip, startTestPostgres, type TestPostgres } from '../../helpers/postgres.js';

const directory = mkdtempSync(join(tmpdir(), 'warren-store-upgrade-'));
let server: TestPostgres | undefined;
before(async () => {
  if (skip === false) server = await startTestPostgres('warren_upgrade');
});
after(async () => {
  rmSync(directory, { recursive: true, force: true });
  await server?.stop();
});

/** The tasks row every old layout holds: a running task, attempt 1. */
const OLD_ROW = ['t1', 'resize', 'running', 1, 1, '"p"', JSON.stringify({ attempts: 1, backoff: { kind: 'fixed', delayMs: 1, jitter: false }, timeoutMs: 0, priority: 0, delayMs: 0 }), 1_000, 1_010, 1_010];

/**
 * Checks that the opened store still holds the old record (with the progress an earlier open recorded,
 * if any), then that it records progress.
 */
async function checkUpgraded(store: ResultStore, progressBefore: number | undefined): Promise<void> {
  try {
    const record = await store.get('t1');
    assert.deepEqual([record?.state, record?.payload, record?.progress], ['running', 'p', progressBefore]);
    const at = 1_020 + (progressBefore ?? 0);
    const event = { protocol: TASK_PROTOCOL_VERSION, kind: 'progress', id: 't1', name: 'resize', run: 1, attempt: 1, at, progress: 30 + (progressBefore ?? 0) } as const;
    assert.equal((await store.recordProgress(event))?.progress, event.progress);
    assert.deepEqual([(await store.get('t1'))?.progress, (await store.get('t1'))?.progressAt], [event.progress, at]);
  } finally {
    await store.close();
  }
}

test('a SQLite file of the first layout gains the progress columns', async () => {
  const path = join(directory, 'old.sqlite');
  const db = new Database(path);
  db.exec(`CREATE TABLE tasks (id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL, run INTEGER NOT NULL,
    attempts INTEGER NOT NULL, payload TEXT, options TEXT NOT NULL, result TEXT, error TEXT, retry_at INTEGER,
    created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, updated_at INTEGER NOT NULL)`);
  db.prepare(`INSERT INTO tasks (id, name, state, run, attempts, payload, options, created_at, started_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...OLD_ROW);
  db.pragma('user_version = 1');
  db.close();
  await checkUpgraded(new SqliteResultStore(path), undefined);
  await checkUpgraded(new SqliteResultStore(path), 30); // opening again adds nothing twice
});

test('a PostgreSQL schema of the first layout gains the progress columns', { skip }, async () => {
  assert.ok(server !== undefined, 'the PostgreSQL server did not start');
  const url = await server.createSchema('old_layout');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE warren_tasks (id text PRIMARY KEY, name text NOT NULL, state text NOT NULL, run integer NOT NULL,
      attempts integer NOT NULL, payload json, options json NOT NULL, result json, error json, retry_at double precision,
      created_at double precision NOT NULL, started_at double precision, finished_at double precision,
      updated_at double precision NOT NULL, version integer NOT NULL)`);
    await client.query(`INSERT INTO warren_tasks (id, name, state, run, attempts, payload, options, created_at, started_at, updated_at, version)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)`, OLD_ROW);
  } finally {
    await client.end();
  }
  await checkUpgraded(await PostgresResultStore.open(url), undefined);
  await checkUpgraded(await PostgresResultStore.open(url), 30);
});
