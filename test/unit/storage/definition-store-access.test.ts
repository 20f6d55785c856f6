/**
 * The definitions store's vhost, user and permission records: put/delete, replay after a reopen,
 * cascading deletes (a vhost takes everything in it, a user its permissions), compaction, and records of
 * the wrong shape skipped at load.
 */
import assert from 'node:assert/strict';
import { appendFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import type { StoredPermission, StoredUser } from '../../../src/broker/ports.js';
import { DEFINITIONS_FILE, FileDefinitionStore } from '../../../src/storage/definition-store.js';
import { RecordType, encodeRecord } from '../../../src/storage/records.js';
import { temporaryDirectory } from './fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function openDefinitions(directory: string, compactAboveBytes?: number): FileDefinitionStore {
  const store = new FileDefinitionStore(directory, compactAboveBytes === undefined ? {} : { compactAboveBytes });
  cleanups.unshift(() => store.close());
  return store;
}

/** A well-formed hash (base64 of 36 bytes); the store does not check it, the broker does. */
const HASH = Buffer.alloc(36, 7).toString('base64');
const user = (username: string, tags: string[] = []): StoredUser => ({ username, passwordHash: HASH, tags });
const permission = (username: string, vhost: string, configure = '.*'): StoredPermission => ({ username, vhost, configure, write: '.*', read: '^amq\\.' });
const empty = { args: Object.create(null) as Record<string, never> };

test('vhosts, users and permissions survive a reopen exactly', () => {
  const directory = temporaryDirectory(cleanups);
  const store = openDefinitions(directory);
  store.putVhost({ name: 'v1' });
  store.putVhost({ name: 'caf\u00e9/ü' });
  store.putUser(user('alice', ['administrator', 'monitoring']));
  store.putUser(user('bob'));
  store.putPermission(permission('alice', 'v1'));
  store.putPermission(permission('alice', 'caf\u00e9/ü', ''));
  store.close();
  const loaded = openDefinitions(directory).load();
  assert.deepEqual(loaded.vhosts, [{ name: 'v1' }, { name: 'caf\u00e9/ü' }]);
  assert.deepEqual(loaded.users, [user('alice', ['administrator', 'monitoring']), user('bob')]);
  assert.deepEqual(loaded.permissions, [permission('alice', 'v1'), permission('alice', 'caf\u00e9/ü', '')]);
});

test('puts replace, deletes remove, and deleting a user or vhost takes what depends on it', () => {
  const directory = temporaryDirectory(cleanups);
  const store = openDefinitions(directory);
  for (const name of ['v1', 'v2']) {
    store.putVhost({ name });
    store.putExchange({ vhost: name, name: 'x', type: 'direct', durable: true, autoDelete: false, internal: false, arguments: empty.args });
    store.putQueue({ vhost: name, name: 'q', durable: true, autoDelete: false, arguments: empty.args });
    store.putBinding({ vhost: name, source: 'x', destination: 'q', destinationKind: 'queue', routingKey: 'k', arguments: empty.args });
  }
  store.putUser(user('alice'));
  store.putUser(user('carol'));
  store.putPermission(permission('alice', 'v1'));
  store.putPermission(permission('alice', 'v2'));
  store.putPermission(permission('carol', 'v1'));
  store.putPermission(permission('carol', 'v2'));
  store.putUser(user('alice', ['management'])); // replaces the record, keeps the permissions
  store.putPermission(permission('alice', 'v2', '^own\\.')); // replaces alice's permission on v2
  store.deletePermission('nobody', 'v1'); // deleting what does not exist is fine
  store.deleteVhost('v1'); // takes its exchange, queue, binding and both permissions on it
  store.deleteUser('carol'); // takes carol's remaining permission
  const check = (loaded: ReturnType<FileDefinitionStore['load']>): void => {
    assert.deepEqual(loaded.vhosts, [{ name: 'v2' }]);
    assert.deepEqual(loaded.users, [user('alice', ['management'])]);
    assert.deepEqual(loaded.permissions, [permission('alice', 'v2', '^own\\.')]);
    assert.deepEqual(loaded.exchanges.map((e) => e.vhost), ['v2']);
    assert.deepEqual(loaded.queues.map((q) => q.vhost), ['v2']);
    assert.deepEqual(loaded.bindings.map((b) => b.vhost), ['v2']);
  };
  check(store.load());
  store.deletePermission('alice', 'v2');
  assert.deepEqual(store.load().permissions, []);
  store.putPermission(permission('alice', 'v2', '^own\\.'));
  store.close();
  check(openDefinitions(directory).load());
});

test('compaction keeps vhosts, users and permissions', () => {
  const directory = temporaryDirectory(cleanups);
  const store = openDefinitions(directory, 1024);
  const path = join(directory, DEFINITIONS_FILE);
  store.putVhost({ name: 'kept' });
  store.putUser(user('alice', ['administrator']));
  store.putPermission(permission('alice', 'kept'));
  for (let i = 0; i < 40; i++) {
    store.putVhost({ name: `churn-${i}` });
    store.putUser(user(`churn-${i}`));
    store.putPermission(permission(`churn-${i}`, `churn-${i}`));
    store.deleteUser(`churn-${i}`);
    store.deleteVhost(`churn-${i}`);
  }
  assert.ok(statSync(path).size < 2048, `log is ${statSync(path).size} bytes`);
  store.close();
  const loaded = openDefinitions(directory).load();
  assert.deepEqual(loaded.vhosts, [{ name: 'kept' }]);
  assert.deepEqual(loaded.users, [user('alice', ['administrator'])]);
  assert.deepEqual(loaded.permissions, [permission('alice', 'kept')]);
});

test('a record of a new kind with the wrong shape is skipped and counted', () => {
  const directory = temporaryDirectory(cleanups);
  const store = openDefinitions(directory);
  store.putUser(user('alice'));
  store.close();
  const malformed = [
    { op: 'put', kind: 'user', username: 'mallory', passwordHash: HASH, tags: 'administrator' },
    { op: 'put', kind: 'permission', username: 'alice', vhost: '/', configure: '.*', write: '.*' },
    { op: 'put', kind: 'vhost', name: 42 },
  ];
  for (const change of malformed) {
    appendFileSync(join(directory, DEFINITIONS_FILE), encodeRecord(RecordType.definition, Buffer.from(JSON.stringify(change))));
  }
  const reopened = openDefinitions(directory);
  assert.equal(reopened.droppedRecords, 3);
  assert.deepEqual(reopened.load().users, [user('alice')]);
  assert.deepEqual(reopened.load().permissions, []);
  assert.deepEqual(reopened.load().vhosts, []);
});
