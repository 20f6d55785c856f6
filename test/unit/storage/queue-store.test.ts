/**
 * A durable queue's message store: acknowledged messages never come back, delivered ones come back
 * redelivered, order is kept, dead segments are deleted so disk use follows the backlog, and purge and
 * destroy do what queue.purge and queue.delete need.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import type { MessageLocation, QueueMessageStore, QueueRecovery } from '../../../src/broker/ports.js';
import { FileMessageStore, QUEUES_DIRECTORY, queueDirectoryName } from '../../../src/storage/message-store.js';
import { offsetOf } from '../../../src/storage/location.js';
import { bodyText, bytesOf, filesWith, flipByte, message, temporaryDirectory } from './fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function openStore(dataDirectory: string, segmentSizeBytes = 1024): FileMessageStore {
  const store = new FileMessageStore(dataDirectory, { segmentSizeBytes });
  cleanups.unshift(() => store.closeWithoutFlush());
  return store;
}

const synced = (store: FileMessageStore): Promise<void> =>
  new Promise((resolve, reject) => store.sync((error) => (error === undefined ? resolve() : reject(error))));

const bodies = (recovery: QueueRecovery): string[] => recovery.messages.map((m) => bodyText(m.message));

async function reopen(store: FileMessageStore, dataDirectory: string, segmentSizeBytes = 1024): Promise<{ store: FileMessageStore; queue: QueueMessageStore; recovery: QueueRecovery }> {
  await store.close();
  const next = openStore(dataDirectory, segmentSizeBytes);
  return { store: next, ...(({ store: queue, recovery }) => ({ queue, recovery }))(next.openQueue('/', 'q')) };
}

test('append, ack and recover: exactly the unacknowledged messages come back, in order, with their content', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data);
  const { store: queue, recovery: empty } = store.openQueue('/', 'q');
  assert.deepEqual(empty, { messages: [], pagedOut: { locations: [], redelivered: new Set(), sizes: [] }, droppedRecords: 0, warnings: [] });
  const locations = Array.from({ length: 10 }, (_, i) => queue.append(message(`m${i}`, `key${i}`)));
  for (const i of [0, 3, 4, 9]) queue.ack(locations[i] as MessageLocation);
  const { recovery } = await reopen(store, data);
  assert.deepEqual(bodies(recovery), ['m1', 'm2', 'm5', 'm6', 'm7', 'm8']);
  const first = recovery.messages[0];
  assert.equal(first?.message?.routingKey, 'key1');
  assert.equal(first?.message?.exchange, 'amq.direct');
  assert.deepEqual(first?.message.rawProperties, Buffer.from([0x10, 0x00, 0x02]));
  assert.deepEqual(first?.location, locations[1]);
  assert.ok(recovery.messages.every((m) => !m.redelivered));
});

test('exchange names and routing keys outside ASCII are stored and read back as they were', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data);
  const { store: queue } = store.openQueue('/', 'q');
  const names = [['', 'plain'], ['échange', 'clé.路由'], ['x'.repeat(255), '😀'.repeat(63)]] as const;
  const locations = names.map(([exchange, routingKey]) => queue.append({ ...message('m'), exchange, routingKey }));
  locations.forEach((location, i) => {
    const read = queue.read(location);
    assert.deepEqual([read.exchange, read.routingKey], names[i]);
  });
  const { recovery } = await reopen(store, data);
  assert.deepEqual(recovery.messages.map((m) => [m.message.exchange, m.message.routingKey]), names);
});

test('messages marked delivered come back redelivered; acked ones do not come back even if delivered', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data);
  const { store: queue } = store.openQueue('/', 'q');
  const locations = Array.from({ length: 4 }, (_, i) => queue.append(message(`m${i}`)));
  await synced(store);
  queue.markDelivered(locations[0] as MessageLocation);
  queue.markDelivered(locations[1] as MessageLocation);
  queue.ack(locations[1] as MessageLocation);
  queue.markDelivered(locations[3] as MessageLocation);
  const { recovery } = await reopen(store, data);
  assert.deepEqual(
    recovery.messages.map((m) => [bodyText(m.message), m.redelivered]),
    [['m0', true], ['m2', false], ['m3', true]],
  );
});

test('read() returns a stored message before and after it is flushed; a repeated ack counts once', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data, 256);
  const { store: queue } = store.openQueue('/', 'q');
  const locations = Array.from({ length: 20 }, (_, i) => queue.append(message(`body ${i}`)));
  assert.equal(bodyText(queue.read(locations[19] as MessageLocation)), 'body 19');
  await synced(store);
  assert.equal(bodyText(queue.read(locations[2] as MessageLocation)), 'body 2');
  assert.equal(bodyText(queue.read(locations[19] as MessageLocation)), 'body 19');
  queue.ack(locations[5] as MessageLocation);
  queue.ack(locations[5] as MessageLocation);
  const { recovery } = await reopen(store, data, 256);
  assert.equal(recovery.messages.length, 19);
});

test('fully acknowledged segments are deleted, so disk use follows the live backlog', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data, 1024);
  const { store: queue } = store.openQueue('/', 'q');
  const directory = join(data, QUEUES_DIRECTORY, queueDirectoryName('/', 'q'));
  const locations = Array.from({ length: 200 }, (_, i) => queue.append(message(`message ${i}`.padEnd(100, '.'))));
  await synced(store);
  const segmentsAtPeak = filesWith(directory, '.seg').length;
  const bytesAtPeak = bytesOf(directory, '.seg');
  assert.ok(segmentsAtPeak >= 20, `${segmentsAtPeak} segments`);
  for (const location of locations.slice(0, 190)) queue.ack(location);
  await synced(store);
  await synced(store); // deletions become durable in one round and are unlinked at its end
  const segmentsLeft = filesWith(directory, '.seg').length;
  assert.ok(segmentsLeft <= 3, `${segmentsLeft} segments left`);
  assert.ok(bytesOf(directory, '.seg') < bytesAtPeak / 10);
  assert.ok(filesWith(directory, '.ack').length <= segmentsLeft, 'ack files go with their segments');
  const { recovery } = await reopen(store, data, 1024);
  assert.deepEqual(bodies(recovery).map((b) => b.replace(/\.+$/, '')), Array.from({ length: 10 }, (_, i) => `message ${190 + i}`));
  assert.deepEqual(recovery.warnings, []);
});

test('acking everything, including the current segment, leaves one small segment after a restart', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data, 1024);
  const { store: queue } = store.openQueue('/', 'q');
  for (const location of Array.from({ length: 50 }, (_, i) => queue.append(message(`m${i}`.padEnd(60))))) queue.ack(location);
  const { store: second, recovery } = await reopen(store, data, 1024);
  assert.equal(recovery.messages.length, 0);
  await synced(second);
  await synced(second);
  const directory = join(data, QUEUES_DIRECTORY, queueDirectoryName('/', 'q'));
  assert.equal(filesWith(directory, '.seg').length, 1);
});

test('purge removes every stored message; later appends survive', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data, 512);
  const { store: queue } = store.openQueue('/', 'q');
  const old = Array.from({ length: 30 }, (_, i) => queue.append(message(`old ${i}`)));
  await synced(store);
  queue.append(message('unflushed old'));
  queue.purge();
  queue.ack(old[0] as MessageLocation); // an ack of a purged message is ignored
  queue.append(message('new'));
  const { recovery } = await reopen(store, data, 512);
  assert.deepEqual(bodies(recovery), ['new']);
});

test('destroy removes the queue directory; a queue declared again with that name starts empty', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data);
  const { store: queue } = store.openQueue('/', 'q');
  queue.append(message('gone'));
  await synced(store);
  const directory = join(data, QUEUES_DIRECTORY, queueDirectoryName('/', 'q'));
  assert.ok(existsSync(directory));
  queue.destroy();
  assert.equal(existsSync(directory), false);
  assert.deepEqual(readdirSync(join(data, QUEUES_DIRECTORY)), []);
  const again = store.openQueue('/', 'q');
  assert.equal(again.recovery.messages.length, 0);
  again.store.append(message('fresh'));
  const { recovery } = await reopen(store, data);
  assert.deepEqual(bodies(recovery), ['fresh']);
});

test('queues are kept apart, with any name (slashes, dots, unicode), and listed by identity', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data);
  const names = ['a/b', '..', 'ünïcødé queue', 'x'.repeat(255)];
  for (const name of names) store.openQueue('vhost/1', name).store.append(message(name.slice(0, 10)));
  await store.close();
  const next = openStore(data);
  assert.deepEqual(
    next.listQueues().map((q) => q.name).sort(),
    [...names].sort(),
  );
  for (const name of names) assert.deepEqual(bodies(next.openQueue('vhost/1', name).recovery), [name.slice(0, 10)]);
  assert.equal(next.openQueue('other', 'a/b').recovery.messages.length, 0);
});

test('a corrupt message in the middle of a queue is dropped and reported; the rest are kept', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data, 1 << 20);
  const { store: queue } = store.openQueue('/', 'q');
  const locations = Array.from({ length: 5 }, (_, i) => queue.append(message(`m${i}`)));
  await store.close();
  const path = join(data, QUEUES_DIRECTORY, queueDirectoryName('/', 'q'), '00000001.seg');
  flipByte(path, offsetOf(locations[2] as MessageLocation) + 20, 0x01);
  const next = openStore(data, 1 << 20);
  const { recovery } = next.openQueue('/', 'q');
  assert.deepEqual(bodies(recovery), ['m0', 'm1', 'm3', 'm4']);
  assert.equal(recovery.droppedRecords, 1);
  assert.equal(recovery.warnings.length, 1);
});

test('an ack that reached the disk while its message did not never acknowledges a later message', async () => {
  // What a crash leaves when a message delivered from memory was acknowledged and the ack file's fsync
  // finished before the segment's (or the segment write failed on a full disk): the ack of m1 is durable,
  // m1's record is not. Its offset is where the next append would go.
  const data = temporaryDirectory(cleanups);
  const store = openStore(data, 1 << 20);
  const { store: queue } = store.openQueue('/', 'q');
  queue.append(message('m0'));
  const lost = queue.append(message('m1'));
  queue.ack(lost);
  await store.close();
  const directory = join(data, QUEUES_DIRECTORY, queueDirectoryName('/', 'q'));
  truncateSync(join(directory, '00000001.seg'), offsetOf(lost));
  const second = openStore(data, 1 << 20);
  const reopened = second.openQueue('/', 'q');
  assert.deepEqual(bodies(reopened.recovery), ['m0']);
  reopened.store.append(message('m2'));
  const { recovery } = await reopen(second, data, 1 << 20);
  assert.deepEqual(bodies(recovery), ['m0', 'm2'], 'm2 was never acknowledged');
  assert.deepEqual(recovery.warnings, []);
});

test('past bodiesInMemory, recovery returns places only, in order, with their delivered marks, and they read back', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data);
  const { store: queue } = store.openQueue('/', 'q');
  const locations = Array.from({ length: 8 }, (_, i) => queue.append(message(`m${i}`)));
  queue.ack(locations[0] as MessageLocation);
  queue.markDelivered(locations[5] as MessageLocation);
  await store.close();
  const next = openStore(data);
  const { store: reopened, recovery } = next.openQueue('/', 'q', 3);
  assert.deepEqual(bodies(recovery), ['m1', 'm2', 'm3']);
  assert.deepEqual(recovery.pagedOut.locations, locations.slice(4));
  assert.deepEqual([...recovery.pagedOut.redelivered], [1]);
  assert.deepEqual(recovery.pagedOut.locations.map((location) => bodyText(reopened.read(location))), ['m4', 'm5', 'm6', 'm7']);
});

test('transient records read back and ack like persistent ones but never come back after a restart', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data, 256);
  const { store: queue } = store.openQueue('/', 'q');
  const written = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? queue.append(message(`p${i}`)) : queue.appendTransient(message(`t${i}`))));
  assert.equal(bodyText(queue.read(written[1] as MessageLocation)), 't1');
  assert.equal(bodyText(queue.read(written[3] as MessageLocation)), 'p3');
  for (const location of written.slice(0, 4)) queue.ack(location);
  const { recovery } = await reopen(store, data, 256);
  assert.deepEqual(bodies(recovery), ['p6', 'p9']);
  assert.equal(recovery.droppedRecords, 0);
});

test('a transient queue store pages messages out and back, and is gone after a restart', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data);
  const paging = store.openTransientQueue('/', 'amq.gen-1');
  const written = Array.from({ length: 5 }, (_, i) => paging.appendTransient(message(`t${i}`)));
  await synced(store);
  assert.deepEqual(written.map((location) => bodyText(paging.read(location))), ['t0', 't1', 't2', 't3', 't4']);
  assert.ok(existsSync(join(data, 'transient')));
  await store.close();
  openStore(data);
  assert.equal(existsSync(join(data, 'transient')), false);
});

test('destroying a transient queue store removes its files at once', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data);
  const paging = store.openTransientQueue('/', 'q');
  paging.appendTransient(message('t'));
  await synced(store);
  assert.equal(readdirSync(join(data, 'transient')).length, 1);
  paging.destroy();
  assert.deepEqual(readdirSync(join(data, 'transient')), []);
});
