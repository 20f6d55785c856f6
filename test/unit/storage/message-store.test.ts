/**
 * Group commit: sync() calls of one event-loop turn share one round of fsyncs, calls made during a
 * round wait for the next, I/O errors reach the callbacks (never thrown) and the store recovers from
 * them, and unsynced changes are flushed on their own after a while.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, test } from 'node:test';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FileMessageStore, QUEUES_DIRECTORY, queueDirectoryName, type MessageStoreOptions } from '../../../src/storage/message-store.js';
import { bodyText, faultyFs, message, temporaryDirectory, type FaultyFs } from './fixtures.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function openStore(dataDirectory: string, faulty: FaultyFs, options: MessageStoreOptions = {}): FileMessageStore {
  const store = new FileMessageStore(dataDirectory, { fs: faulty.fs, ...options });
  cleanups.unshift(async () => {
    faulty.holdSyncs = false;
    for (const release of faulty.held.splice(0)) release();
    // A timer-driven round may still be in flight; let it finish so the crash-like close is legal.
    try {
      await Promise.race([
        new Promise<void>((resolve) => store.sync(() => resolve())),
        new Promise<void>((resolve) => setTimeout(resolve, 2000)),
      ]);
    } catch {
      // The test closed the store already.
    }
    store.closeWithoutFlush();
  });
  return store;
}

const synced = (store: FileMessageStore): Promise<Error | undefined> => new Promise((resolve) => store.sync(resolve));
const appendsSynced = (store: FileMessageStore): Promise<Error | undefined> => new Promise((resolve) => store.syncAppended(resolve));

test('every sync() of one event-loop turn is served by one round: one fsync per dirty file', async () => {
  const data = temporaryDirectory(cleanups);
  const faulty = faultyFs();
  const store = openStore(data, faulty);
  const queues = ['a', 'b', 'c'].map((name) => store.openQueue('/', name).store);
  const before = { ...faulty.counts, rounds: store.stats.rounds };
  const results: (Error | undefined)[] = [];
  for (let i = 0; i < 300; i++) {
    (queues[i % 3] ?? assert.fail()).append(message(`m${i}`));
    store.sync((error) => results.push(error));
  }
  assert.equal(results.length, 0, 'callbacks are never called synchronously');
  await synced(store);
  assert.equal(results.length, 300);
  assert.ok(results.every((error) => error === undefined));
  assert.equal(store.stats.rounds - before.rounds, 1, 'one round for the 300 calls and the final await');
  assert.equal(faulty.counts.fdatasync - before.fdatasync, 3, 'one fdatasync per queue segment');
  assert.equal(faulty.counts.fsyncSync - before.fsyncSync, 0, 'no synchronous fsync on the hot path');
});

test('sync() calls made while a round is in flight wait for the next round', async () => {
  const data = temporaryDirectory(cleanups);
  const faulty = faultyFs();
  const store = openStore(data, faulty);
  const { store: queue } = store.openQueue('/', 'q');
  const order: string[] = [];
  queue.append(message('first'));
  faulty.holdSyncs = true;
  store.sync(() => order.push('first'));
  await sleep(20);
  assert.equal(faulty.held.length, 1, 'the first round is waiting on its fsync');
  queue.append(message('second'));
  store.sync(() => order.push('second'));
  store.sync(() => order.push('second too'));
  await sleep(20);
  assert.deepEqual(order, []);
  assert.equal(store.stats.rounds, 1, 'no second round while the first is in flight');
  faulty.holdSyncs = false;
  for (const release of faulty.held.splice(0)) release();
  await synced(store); // joins the second round, which starts in the next turn
  assert.deepEqual(order, ['first', 'second', 'second too']);
  assert.equal(store.stats.rounds, 2);
});

test('an fsync error (EIO) reaches every callback of the round; the data is rewritten and made durable later', async () => {
  const data = temporaryDirectory(cleanups);
  const faulty = faultyFs();
  const store = openStore(data, faulty);
  const { store: queue } = store.openQueue('/', 'q');
  queue.append(message('m0'));
  queue.append(message('m1'));
  faulty.failSyncs.push('EIO');
  const errors = await Promise.all([synced(store), synced(store)]);
  for (const error of errors) assert.match(String(error?.message), /EIO/);
  assert.equal(store.stats.failedRounds, 1);
  const writesBefore = faulty.counts.write;
  queue.append(message('m2'));
  assert.equal(await synced(store), undefined, 'the store keeps working');
  assert.equal(faulty.counts.write - writesBefore, 2, 'the bytes whose fsync failed are written again, then the new ones');
  await store.close();
  const next = openStore(data, faultyFs());
  const { recovery } = next.openQueue('/', 'q');
  assert.deepEqual(recovery.messages.map((m) => bodyText(m.message)), ['m0', 'm1', 'm2']);
});

test('a write error (ENOSPC) reaches the callbacks; a later round writes the same bytes at the same place', async () => {
  const data = temporaryDirectory(cleanups);
  const faulty = faultyFs();
  const store = openStore(data, faulty);
  const { store: queue } = store.openQueue('/', 'q');
  const first = queue.append(message('m0'));
  faulty.failWrites.push('ENOSPC');
  assert.match(String((await synced(store))?.message), /ENOSPC/);
  assert.equal(bodyText(queue.read(first)), 'm0', 'still readable from memory');
  queue.append(message('m1'));
  assert.equal(await synced(store), undefined);
  await store.close();
  const next = openStore(data, faultyFs());
  const { recovery } = next.openQueue('/', 'q');
  assert.deepEqual(recovery.messages.map((m) => bodyText(m.message)), ['m0', 'm1']);
  assert.deepEqual(recovery.warnings, []);
});

test('a failed zero-fill ahead of the appends (ENOSPC) fails nothing: the round succeeds and the next one fills', async () => {
  const data = temporaryDirectory(cleanups);
  const faulty = faultyFs();
  const store = openStore(data, faulty);
  const { store: queue } = store.openQueue('/', 'q');
  const texts = Array.from({ length: 20 }, (_, i) => `m${i}`);
  for (const text of texts) queue.append(message(text));
  assert.equal(await synced(store), undefined); // a segment's first round gets no zeros: it is all of the segment
  queue.append(message('after0'));
  faulty.failZeroWrites.push('ENOSPC');
  assert.equal(await synced(store), undefined);
  assert.equal(faulty.counts.zeroWrite, 1, 'the zeros were tried');
  queue.append(message('after1'));
  assert.equal(await synced(store), undefined);
  assert.equal(faulty.counts.zeroWrite, 2, 'and tried again with the next appends, the failed ones not taken as written');
  await store.close();
  const next = openStore(data, faultyFs());
  const { recovery } = next.openQueue('/', 'q');
  assert.deepEqual(recovery.messages.map((m) => bodyText(m.message)), [...texts, 'after0', 'after1']);
  assert.deepEqual(recovery.warnings, []);
});

test('a sync() with nothing to write calls back without any fsync', async () => {
  const data = temporaryDirectory(cleanups);
  const faulty = faultyFs();
  const store = openStore(data, faulty);
  store.openQueue('/', 'q');
  await synced(store);
  const before = { ...faulty.counts };
  assert.equal(await synced(store), undefined);
  assert.deepEqual(faulty.counts, before);
});

test('changes nobody syncs are flushed by the interval timer, and sooner once enough bytes are buffered', async () => {
  const data = temporaryDirectory(cleanups);
  const faulty = faultyFs();
  const store = openStore(data, faulty, { autoSyncIntervalMs: 20, autoSyncBytes: 10_000 });
  const { store: queue } = store.openQueue('/', 'q');
  queue.append(message('lonely'));
  await sleep(60);
  assert.equal(store.stats.rounds, 1);
  for (let i = 0; i < 200; i++) queue.append(message('x'.repeat(100)));
  await sleep(5);
  assert.equal(store.stats.rounds, 2, 'the byte threshold started a round before the timer');
});

test('changes made while a round is in flight get a round of their own without any sync() call', async () => {
  const data = temporaryDirectory(cleanups);
  const faulty = faultyFs();
  const store = openStore(data, faulty, { autoSyncIntervalMs: 20 });
  const { store: queue } = store.openQueue('/', 'q');
  queue.append(message('first'));
  faulty.holdSyncs = true;
  store.sync(() => undefined);
  await sleep(10);
  queue.append(message('during the round'));
  faulty.holdSyncs = false;
  for (const release of faulty.held.splice(0)) release();
  await sleep(60);
  assert.equal(store.stats.rounds, 2);
  store.closeWithoutFlush();
  const next = openStore(data, faultyFs());
  assert.equal(next.openQueue('/', 'q').recovery.messages.length, 2);
});

/** A store over a fresh directory (fsyncs counted) whose queue 'q' holds one message, fsynced. */
async function storeWithSyncedMessage(autoSyncIntervalMs: number) {
  const data = temporaryDirectory(cleanups);
  const faulty = faultyFs();
  const store = openStore(data, faulty, { autoSyncIntervalMs });
  const { store: queue } = store.openQueue('/', 'q');
  const first = queue.append(message('first'));
  await synced(store);
  return { data, faulty, store, queue, first };
}

test('syncAppended() fsyncs appended messages; the acks of its round are written at once and fsynced by sync()', async () => {
  const { data, faulty, store, queue, first } = await storeWithSyncedMessage(60_000);
  const before = { ...faulty.counts };
  queue.ack(first);
  queue.append(message('second'));
  assert.equal(await appendsSynced(store), undefined);
  assert.equal(faulty.counts.fdatasync - before.fdatasync, 1, 'the segment only');
  assert.equal(faulty.counts.write - before.write, 2, 'the segment and the ack file were both written');
  // A crash of the process now (the written acknowledgement survives it) does not bring the message back.
  store.closeWithoutFlush();
  const reopened = openStore(data, faulty);
  assert.deepEqual(reopened.openQueue('/', 'q').recovery.messages.map((m) => bodyText(m.message)), ['second']);
});

test('sync() fsyncs the acks that syncAppended() rounds only wrote', async () => {
  const { faulty, store, queue, first } = await storeWithSyncedMessage(60_000);
  queue.ack(first);
  queue.append(message('second'));
  await appendsSynced(store);
  const before = { ...faulty.counts };
  assert.equal(await synced(store), undefined);
  assert.equal(faulty.counts.fdatasync - before.fdatasync, 1, 'the ack file');
  assert.equal(faulty.counts.write - before.write, 0, 'nothing left to write');
});

test('while syncAppended() rounds keep running, acks are fsynced again once autoSyncIntervalMs has passed', async () => {
  const { faulty, store, queue, first } = await storeWithSyncedMessage(40);
  let previous = first;
  const before = { fdatasync: faulty.counts.fdatasync, rounds: store.stats.rounds };
  const startedAt = Date.now();
  while (Date.now() - startedAt < 200) {
    queue.ack(previous);
    previous = queue.append(message('m'));
    await appendsSynced(store);
  }
  const rounds = store.stats.rounds - before.rounds;
  // Every round fsyncs the segment; what is left over are the ack file's fsyncs.
  const ackFileSyncs = faulty.counts.fdatasync - before.fdatasync - rounds;
  assert.ok(rounds > 10, `${rounds} rounds`);
  assert.ok(ackFileSyncs >= 2 && ackFileSyncs <= 7, `${ackFileSyncs} ack file fsyncs in ${rounds} rounds over 200 ms`);
});

test('dead segments are unlinked off the event loop, and the round calls back once they are gone', async () => {
  const data = temporaryDirectory(cleanups);
  const faulty = faultyFs();
  const store = openStore(data, faulty, { segmentSizeBytes: 256 });
  const { store: queue } = store.openQueue('/', 'q');
  const locations = Array.from({ length: 20 }, (_, i) => queue.append(message(`m${i}`.padEnd(40, '.'))));
  await synced(store);
  const directory = join(data, QUEUES_DIRECTORY, queueDirectoryName('/', 'q'));
  const before = readdirSync(directory).filter((name) => name.endsWith('.seg')).length;
  for (const location of locations) queue.ack(location);
  await synced(store); // makes the deletions durable, then removes the files before calling back
  const after = readdirSync(directory).filter((name) => name.endsWith('.seg'));
  assert.ok(before > 2, `${before} segments`);
  assert.equal(after.length, 1, `only the current segment is left: ${after.join(', ')}`);
  assert.equal(faulty.counts.unlinkSync, 0);
  assert.ok(faulty.counts.unlink >= before - 1);
});

test('close() flushes and fsyncs what nobody synced; sync() after close reports an error', async () => {
  const data = temporaryDirectory(cleanups);
  const store = openStore(data, faultyFs());
  store.openQueue('/', 'q').store.append(message('kept'));
  await store.close();
  assert.match(String((await synced(store))?.message), /closed/);
  const next = openStore(data, faultyFs());
  assert.equal(next.openQueue('/', 'q').recovery.messages.length, 1);
});
