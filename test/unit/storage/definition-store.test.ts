/**
 * The definitions store: put/delete/reload with exact arguments, cascading deletes, fsync per call,
 * compaction into a snapshot, and loading past a torn last record or a corrupt one.
 */
import assert from 'node:assert/strict';
import { statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import type { StoredBinding, StoredExchange, StoredQueue } from '../../../src/broker/ports.js';
import { Decimal, type FieldTable } from '../../../src/codec/index.js';
import { DEFINITIONS_FILE, FileDefinitionStore } from '../../../src/storage/definition-store.js';
import { faultyFs, flipByte, temporaryDirectory } from './fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function openDefinitions(directory: string, compactAboveBytes?: number): FileDefinitionStore {
  const store = new FileDefinitionStore(directory, compactAboveBytes === undefined ? {} : { compactAboveBytes });
  cleanups.unshift(() => store.close());
  return store;
}

function table(entries: Record<string, FieldTable[string]>): FieldTable {
  return Object.assign(Object.create(null) as FieldTable, entries);
}

const exchange = (name: string, args: FieldTable = table({})): StoredExchange => ({
  vhost: '/',
  name,
  type: 'topic',
  durable: true,
  autoDelete: false,
  internal: false,
  arguments: args,
});
const queue = (name: string, args: FieldTable = table({})): StoredQueue => ({ vhost: '/', name, durable: true, autoDelete: false, arguments: args });
const binding = (source: string, destination: string, routingKey: string, args: FieldTable = table({})): StoredBinding => ({
  vhost: '/',
  source,
  destination,
  destinationKind: 'queue',
  routingKey,
  arguments: args,
});

/** No vhosts, users or permissions: the tests of exchanges, queues and bindings store none. */
const noAccessDefinitions = { vhosts: [], users: [], permissions: [], policies: [] };

test('definitions survive a reopen exactly, arguments of every type included', () => {
  const directory = temporaryDirectory(cleanups);
  const store = openDefinitions(directory);
  const args = table({
    'x-max-length': 10,
    'x-message-ttl': 2 ** 40,
    huge: 2n ** 62n, // a bigint stays one only beyond the safe integers, exactly as after a trip over the wire
    'x-dead-letter-exchange': 'dlx',
    flag: true,
    bytes: Buffer.from([1, 2, 3]),
    when: new Date(1_700_000_000_000),
    price: new Decimal(2, 1999),
    list: [1, 'two', null],
    nested: table({ deep: 1.5 }),
  });
  store.putExchange(exchange('events', args));
  store.putQueue(queue('work', args));
  store.putBinding(binding('events', 'work', 'a.#', args));
  store.close();
  const loaded = openDefinitions(directory).load();
  assert.deepEqual(loaded, { ...noAccessDefinitions, exchanges: [exchange('events', args)], queues: [queue('work', args)], bindings: [binding('events', 'work', 'a.#', args)] });
});

test('deletes remove what they name, bindings are identified by all their fields, and deletes cascade to bindings', () => {
  const directory = temporaryDirectory(cleanups);
  const store = openDefinitions(directory);
  store.putExchange(exchange('e1'));
  store.putExchange(exchange('e2'));
  store.putQueue(queue('q1'));
  store.putQueue(queue('q2'));
  store.putBinding(binding('e1', 'q1', 'k'));
  store.putBinding(binding('e1', 'q1', 'k', table({ a: 1, b: 2 })));
  store.putBinding(binding('e1', 'q1', 'k', table({ b: 2, a: 1 }))); // the same binding: argument order does not matter
  store.putBinding(binding('e2', 'q2', 'k'));
  store.putBinding(binding('e2', 'q1', 'other'));
  store.deleteBinding(binding('e1', 'q1', 'k'));
  assert.equal(store.load().bindings.length, 3);
  store.deleteExchange('/', 'e1'); // takes its remaining binding with it
  store.deleteQueue('/', 'q2'); // takes e2 -> q2 with it
  store.deleteBinding(binding('nope', 'nothing', 'x')); // deleting what does not exist is fine
  const expected = { ...noAccessDefinitions, exchanges: [exchange('e2')], queues: [queue('q1')], bindings: [binding('e2', 'q1', 'other')] };
  assert.deepEqual(store.load(), expected);
  store.close();
  assert.deepEqual(openDefinitions(directory).load(), expected);
});

test('every change is fsynced before the call returns', () => {
  const directory = temporaryDirectory(cleanups);
  const faulty = faultyFs();
  const store = new FileDefinitionStore(directory, { fs: faulty.fs });
  cleanups.unshift(() => store.close());
  const before = faulty.counts.fsyncSync;
  store.putQueue(queue('q'));
  store.deleteQueue('/', 'q');
  assert.equal(faulty.counts.fsyncSync - before, 2);
});

test('a failed write throws, changes nothing in memory, and leaves the log usable', () => {
  const directory = temporaryDirectory(cleanups);
  const faulty = faultyFs();
  const store = new FileDefinitionStore(directory, { fs: faulty.fs });
  cleanups.unshift(() => store.close());
  store.putQueue(queue('a'));
  faulty.failWrites.push('ENOSPC');
  assert.throws(() => store.putQueue(queue('b')), /ENOSPC/);
  assert.deepEqual(store.load().queues, [queue('a')]);
  store.putQueue(queue('c'));
  store.close();
  assert.deepEqual(openDefinitions(directory).load().queues, [queue('a'), queue('c')]);
});

test('the log is compacted into a snapshot once it grows past the threshold', () => {
  const directory = temporaryDirectory(cleanups);
  const store = openDefinitions(directory, 1024);
  const path = join(directory, DEFINITIONS_FILE);
  for (let i = 0; i < 40; i++) {
    store.putQueue(queue(`churn-${i}`));
    store.deleteQueue('/', `churn-${i}`);
  }
  store.putQueue(queue('kept'));
  assert.ok(statSync(path).size < 2048, `log is ${statSync(path).size} bytes`);
  store.close();
  assert.deepEqual(openDefinitions(directory).load().queues, [queue('kept')]);
});

test('a torn last record is dropped and reported; the rest loads and later changes are kept', () => {
  const directory = temporaryDirectory(cleanups);
  const store = openDefinitions(directory);
  store.putQueue(queue('a'));
  store.putQueue(queue('b'));
  store.close();
  const path = join(directory, DEFINITIONS_FILE);
  truncateSync(path, statSync(path).size - 5);
  const reopened = openDefinitions(directory);
  assert.deepEqual(reopened.load().queues, [queue('a')]);
  assert.equal(reopened.droppedRecords, 1);
  assert.match(reopened.warnings.join('\n'), /corrupt bytes/);
  reopened.putQueue(queue('c'));
  reopened.close();
  const third = openDefinitions(directory);
  assert.deepEqual(third.load().queues, [queue('a'), queue('c')]);
  assert.equal(third.droppedRecords, 0);
});

test('a corrupt record in the middle is skipped and counted; the records around it load', () => {
  const directory = temporaryDirectory(cleanups);
  const store = openDefinitions(directory);
  store.putQueue(queue('a'));
  const path = join(directory, DEFINITIONS_FILE);
  const afterFirst = statSync(path).size;
  store.putQueue(queue('b'));
  store.putQueue(queue('c'));
  store.close();
  flipByte(path, afterFirst + 20, 0x40);
  const reopened = openDefinitions(directory);
  assert.deepEqual(reopened.load().queues, [queue('a'), queue('c')]);
  assert.equal(reopened.droppedRecords, 1);
  reopened.close();
  assert.equal(openDefinitions(directory).droppedRecords, 0, 'loading rewrote the log without the corrupt bytes');
});

test('policies survive a reopen and compaction; deleting a vhost deletes its policies', () => {
  const directory = temporaryDirectory(cleanups);
  {
    const policy = { vhost: 'v1', name: 'limits', pattern: '^jobs\\.', applyTo: 'queues', priority: 2, definition: { 'max-length': 10, overflow: 'reject-publish' } };
    let store = new FileDefinitionStore(directory, { compactAboveBytes: 1 });
    store.putVhost({ name: 'v1' });
    store.putPolicy(policy);
    store.putPolicy({ ...policy, name: 'gone' });
    store.deletePolicy('v1', 'gone');
    store.close();
    store = new FileDefinitionStore(directory);
    assert.deepEqual(store.load().policies, [policy]);
    store.deleteVhost('v1');
    store.close();
    store = new FileDefinitionStore(directory);
    assert.deepEqual(store.load().policies, []);
    store.close();
  }
});
