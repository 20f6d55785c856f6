/**
 * The PostgreSQL result store runs the conformance suite against a private PostgreSQL server
 * (test/helpers/postgres.ts), one new schema per test. In CI a missing PostgreSQL fails this file;
 * elsewhere it is skipped.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PostgresResultStore, openResultStore } from '../../../src/tasks/store/index.js';
import { skip, startTestPostgres, unavailable, type TestPostgres } from '../../helpers/postgres.js';
import { resultStoreConformance } from './result-store-conformance.js';

let server: TestPostgres | undefined;
let schemas = 0;

before(async () => {
  if (skip !== false) return;
  server = await startTestPostgres();
});

after(async () => {
  await server?.stop();
});

test('PostgreSQL is installed (Debian\'s postgresql package)', { skip }, () => {
  assert.equal(unavailable, undefined, unavailable);
});

/** The running server; fails the test when it did not start. */
function running(): TestPostgres {
  assert.ok(server !== undefined, unavailable ?? 'the PostgreSQL server did not start');
  return server;
}

resultStoreConformance({
  name: 'PostgreSQL',
  newLocation: async () => {
    schemas += 1;
    // postgresql:// as well as postgres://, so openResultStore's choice is covered too.
    return (await running().createSchema(`store_${schemas}`)).replace(/^postgres:/, 'postgresql:');
  },
  open: (location) => openResultStore(location),
  persistent: true,
  skip,
});

test('openResultStore opens a PostgresResultStore for postgres:// URLs, and a bad server fails the open', { skip }, async () => {
  const store = await openResultStore(running().url);
  assert.ok(store instanceof PostgresResultStore);
  await store.close();
  await store.close();
  await assert.rejects(PostgresResultStore.open('postgres://warren@127.0.0.1:1/nothing'));
});
