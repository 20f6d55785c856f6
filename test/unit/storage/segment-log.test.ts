/**
 * The segment log: round trip, rollover, checked reads, deletion, zero-filling ahead of appends, and
 * recovery from a torn tail, a corrupt record, a corrupt length and a missing segment file.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { RecordType, encodeRecord } from '../../../src/storage/records.js';
import { locationOf, offsetOf, segmentOf } from '../../../src/storage/location.js';
import type { MessageLocation } from '../../../src/broker/ports.js';
import {
  SegmentLog,
  StorageCorruptionError,
  ZERO_FILL_AHEAD_MAX_BYTES,
  removeSegmentFiles,
  segmentFileName,
  type LogRecovery,
  type SegmentFiles,
} from '../../../src/storage/segment-log.js';
import { nodeStorageFs, type StorageFs } from '../../../src/storage/storage-fs.js';
import { faultyFs, filesWith, flipByte, syncAll, temporaryDirectory } from './fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface Opened {
  log: SegmentLog;
  recovery: LogRecovery;
  records: { segment: number; offset: number; text: string }[];
}

function openLog(directory: string, segmentSizeBytes = 256, fs: StorageFs = nodeStorageFs): Opened {
  const records: Opened['records'] = [];
  const { log, recovery } = SegmentLog.open(
    directory,
    { fs, segmentSizeBytes, recordTypes: [RecordType.message], companionExtensions: ['.ack'] },
    { beginSegment: () => undefined, record: (segment, offset, _type, payload) => records.push({ segment, offset, text: payload.toString() }) },
  );
  cleanups.unshift(() => log.close());
  return { log, recovery, records };
}

async function commit(log: SegmentLog): Promise<void> {
  const targets: Parameters<SegmentLog['flush']>[0] = [];
  log.flush(targets);
  await syncAll(targets);
  const removals: SegmentFiles[] = [];
  log.afterSync(removals);
  await Promise.all(removals.map((removal) => new Promise<void>((resolve) => removeSegmentFiles(nodeStorageFs, removal, resolve))));
}

/** Appends `count` records "<prefix>0", "<prefix>1", ... padded to `size` bytes. */
function appendMany(log: SegmentLog, count: number, size = 40, prefix = 'm'): MessageLocation[] {
  return Array.from({ length: count }, (_, i) => log.append(RecordType.message, Buffer.from(`${prefix}${i}`.padEnd(size, '.'))));
}

const texts = (opened: Opened): string[] => opened.records.map((record) => record.text.replace(/\.+$/, ''));
const segmentPath = (directory: string, segment: number): string => join(directory, segmentFileName(segment));

/** Five 49-byte records m0..m4 committed to segment 1 of a new log, closed again: for the damage tests. */
async function fiveRecordsOnDisk(): Promise<{ directory: string; path: string; locations: MessageLocation[] }> {
  const directory = temporaryDirectory(cleanups);
  const { log } = openLog(directory, 1 << 20);
  const locations = appendMany(log, 5);
  await commit(log);
  log.close();
  return { directory, path: segmentPath(directory, 1), locations };
}

test('records read back before and after a flush, and replay in order with the same locations', async () => {
  const directory = temporaryDirectory(cleanups);
  const first = openLog(directory, 1 << 20);
  const locations = appendMany(first.log, 3);
  assert.equal(first.log.read(locations[1] as never, [RecordType.message]).toString().replace(/\.+$/, ''), 'm1');
  await commit(first.log);
  assert.equal(first.log.read(locations[2] as never, [RecordType.message]).toString().replace(/\.+$/, ''), 'm2');
  first.log.close();
  const second = openLog(directory, 1 << 20);
  assert.deepEqual(texts(second), ['m0', 'm1', 'm2']);
  assert.deepEqual(second.records.map(({ segment, offset }) => locationOf(segment, offset)), locations);
  assert.deepEqual(second.recovery, { droppedRecords: 0, warnings: [] });
});

test('appends roll over into new segments at the size limit; an oversized record gets a segment alone', async () => {
  const directory = temporaryDirectory(cleanups);
  const { log } = openLog(directory, 256);
  const locations = appendMany(log, 12, 40); // 49 bytes a record: 5 per 256-byte segment
  const big = log.append(RecordType.message, Buffer.alloc(600, 'b'));
  await commit(log);
  assert.deepEqual([...new Set(locations.map((l) => segmentOf(l)))], [1, 2, 3]);
  assert.equal(segmentOf(big), 4);
  assert.equal(offsetOf(big), 0);
  for (const segment of [1, 2]) assert.ok(statSync(segmentPath(directory, segment)).size <= 256);
  log.close();
  const reopened = openLog(directory, 256);
  assert.equal(reopened.records.length, 13);
  assert.equal(reopened.log.read(big, [RecordType.message]).length, 600);
});

test('a truncated last record is cut off with a warning, and the log continues after the last good one', async () => {
  const { directory, path } = await fiveRecordsOnDisk();
  truncateSync(path, 5 * 49 - 3); // the zeros written ahead of the appends go too
  const second = openLog(directory, 1 << 20);
  assert.deepEqual(texts(second), ['m0', 'm1', 'm2', 'm3']);
  assert.equal(second.recovery.droppedRecords, 1);
  assert.match(second.recovery.warnings.join('\n'), /torn or corrupt tail of 46 bytes/);
  assert.equal(statSync(path).size, 4 * 49);
  appendMany(second.log, 1, 40, 'after');
  await commit(second.log);
  second.log.close();
  const third = openLog(directory, 1 << 20);
  assert.deepEqual(texts(third), ['m0', 'm1', 'm2', 'm3', 'after0']);
  assert.deepEqual(third.recovery.warnings, []);
});

test('a record with flipped bytes in the middle is skipped and counted; later records are kept', async () => {
  const { directory, path, locations } = await fiveRecordsOnDisk();
  flipByte(path, offsetOf(locations[2] as MessageLocation) + 12);
  const second = openLog(directory, 1 << 20);
  assert.deepEqual(texts(second), ['m0', 'm1', 'm3', 'm4']);
  assert.equal(second.recovery.droppedRecords, 1);
  assert.match(second.recovery.warnings.join('\n'), /49 corrupt bytes at offset 98 skipped/);
  assert.throws(() => second.log.read(locations[2] as never, [RecordType.message]), StorageCorruptionError);
});

test('a corrupt length in the middle costs only that record: the scanner finds the next valid one', async () => {
  const { directory, path, locations } = await fiveRecordsOnDisk();
  const bytes = readFileSync(path);
  bytes.writeUInt32BE(0xfffffff0, offsetOf(locations[1] as MessageLocation));
  writeFileSync(path, bytes);
  const second = openLog(directory, 1 << 20);
  assert.deepEqual(texts(second), ['m0', 'm2', 'm3', 'm4']);
  assert.equal(second.recovery.droppedRecords, 1);
});

test('an unreadable tail of an older segment is skipped; later segments are kept', async () => {
  const directory = temporaryDirectory(cleanups);
  const first = openLog(directory, 256);
  appendMany(first.log, 15, 40);
  await commit(first.log);
  first.log.close();
  truncateSync(segmentPath(directory, 2), 49 * 2 + 20);
  const second = openLog(directory, 256);
  assert.deepEqual(texts(second), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm10', 'm11', 'm12', 'm13', 'm14']);
  assert.equal(second.recovery.droppedRecords, 1);
  assert.match(second.recovery.warnings.join('\n'), /00000002\.seg: 20 corrupt bytes/);
});

test('a missing segment file is reported once; the other segments are kept', async () => {
  const directory = temporaryDirectory(cleanups);
  const first = openLog(directory, 256);
  appendMany(first.log, 15, 40);
  await commit(first.log);
  first.log.close();
  unlinkSync(segmentPath(directory, 2));
  const second = openLog(directory, 256);
  assert.deepEqual(texts(second), ['m0', 'm1', 'm2', 'm3', 'm4', 'm10', 'm11', 'm12', 'm13', 'm14']);
  assert.match(second.recovery.warnings.join('\n'), /segment 00000002\.seg is missing/);
  second.log.close();
  const third = openLog(directory, 256);
  assert.deepEqual(third.recovery.warnings, []);
  assert.equal(third.records.length, 10);
});

test('a deleted segment and its companion are unlinked only after the deletion is durable', async () => {
  const directory = temporaryDirectory(cleanups);
  const { log } = openLog(directory, 256);
  appendMany(log, 12, 40);
  await commit(log);
  writeFileSync(join(directory, segmentFileName(1, '.ack')), 'companion');
  log.deleteSegment(1);
  assert.ok(existsSync(segmentPath(directory, 1)), 'still there before the round');
  assert.deepEqual(log.liveSegments(), [2, 3]);
  await commit(log);
  assert.deepEqual(filesWith(directory, '.seg'), ['00000002.seg', '00000003.seg']);
  assert.deepEqual(filesWith(directory, '.ack'), []);
  log.close();
  const reopened = openLog(directory, 256);
  assert.deepEqual(reopened.recovery.warnings, [], 'a deliberate deletion is not a missing segment');
  assert.equal(reopened.records.length, 7);
});

test('a segment whose deletion was durable but not yet unlinked at a crash is removed at recovery, not replayed', async () => {
  const directory = temporaryDirectory(cleanups);
  const { log } = openLog(directory, 256);
  appendMany(log, 12, 40);
  await commit(log);
  log.deleteSegment(2);
  const targets: Parameters<SegmentLog['flush']>[0] = [];
  log.flush(targets);
  await syncAll(targets); // the crash comes before afterSync() unlinks the file
  log.close();
  assert.ok(existsSync(segmentPath(directory, 2)));
  const reopened = openLog(directory, 256);
  assert.deepEqual(texts(reopened), ['m0', 'm1', 'm2', 'm3', 'm4', 'm10', 'm11']);
  assert.equal(existsSync(segmentPath(directory, 2)), false);
  assert.deepEqual(reopened.recovery.warnings, []);
});

test('deleteAllSegments starts a fresh segment and drops every record, flushed or not', async () => {
  const directory = temporaryDirectory(cleanups);
  const { log } = openLog(directory, 256);
  appendMany(log, 7, 40);
  await commit(log);
  appendMany(log, 2, 40, 'unflushed');
  log.deleteAllSegments();
  appendMany(log, 1, 40, 'new');
  await commit(log);
  assert.deepEqual(filesWith(directory, '.seg'), ['00000003.seg']);
  log.close();
  assert.deepEqual(texts(openLog(directory, 256)), ['new0']);
});

test('a deleted segment whose unlink was lost in a crash is removed at recovery, not revived', async () => {
  const directory = temporaryDirectory(cleanups);
  const { log } = openLog(directory, 256);
  appendMany(log, 12, 40);
  await commit(log);
  const deadBytes = readFileSync(segmentPath(directory, 1));
  log.deleteSegment(1);
  await commit(log);
  log.close();
  // A compaction rewrites the manifest as a snapshot, which forgets the DELETED record.
  const created = (segment: number): Buffer => encodeRecord(RecordType.segmentCreated, Buffer.from([0, 0, 0, segment]));
  writeFileSync(join(directory, 'MANIFEST'), Buffer.concat([created(2), created(3)]));
  writeFileSync(segmentPath(directory, 1), deadBytes); // the unlink never reached the disk
  const reopened = openLog(directory, 256);
  assert.deepEqual(texts(reopened), ['m5', 'm6', 'm7', 'm8', 'm9', 'm10', 'm11']);
  assert.equal(existsSync(segmentPath(directory, 1)), false);
});

test('a torn manifest tail is a normal crash artifact; a missing manifest keeps every segment, with a warning', async () => {
  const directory = temporaryDirectory(cleanups);
  const first = openLog(directory, 256);
  appendMany(first.log, 12, 40);
  await commit(first.log);
  first.log.close();
  const manifest = join(directory, 'MANIFEST');
  truncateSync(manifest, statSync(manifest).size - 2);
  const second = openLog(directory, 256);
  assert.equal(second.records.length, 12);
  assert.deepEqual(second.recovery.warnings, []);
  second.log.close();
  unlinkSync(manifest);
  const third = openLog(directory, 256);
  assert.equal(third.records.length, 12);
  assert.match(third.recovery.warnings.join('\n'), /manifest is missing or damaged/);
});

test('the current segment is zero-filled ahead of its appends; recovery reads the zeros as the end, and appends go over them', async () => {
  const directory = temporaryDirectory(cleanups);
  const path = segmentPath(directory, 1);
  const faulty = faultyFs();
  const first = openLog(directory, 1 << 20, faulty.fs);
  appendMany(first.log, 40); // 40 x 49 bytes
  await commit(first.log);
  assert.equal(statSync(path).size, 40 * 49, 'a round as large as the segment gets no zeros');
  appendMany(first.log, 1, 40, 'next');
  await commit(first.log);
  assert.equal(statSync(path).size, 2 * 41 * 49, 'then as far ahead as the segment holds');
  appendMany(first.log, 1, 40, 'more');
  await commit(first.log);
  assert.equal(statSync(path).size, 2 * 41 * 49, 'topped up only once less than half the room is left');
  assert.equal(faulty.counts.zeroWrite, 1);
  first.log.close();
  const second = openLog(directory, 1 << 20, faulty.fs);
  assert.equal(second.records.length, 42);
  assert.deepEqual(second.recovery, { droppedRecords: 0, warnings: [] });
  assert.equal(statSync(path).size, 2 * 41 * 49, 'the zeros are kept');
  appendMany(second.log, 1, 40, 'after');
  await commit(second.log);
  assert.equal(faulty.counts.zeroWrite, 1, 'the zeros found at recovery are not written again');
  second.log.close();
  const third = openLog(directory, 1 << 20);
  assert.deepEqual(texts(third).slice(-3), ['next0', 'more0', 'after0']);
  assert.deepEqual(third.recovery, { droppedRecords: 0, warnings: [] });
});

test('zero-filling stops at the segment size, and the zeros ending a rolled-over segment are no corruption', async () => {
  const directory = temporaryDirectory(cleanups);
  const first = openLog(directory, 2048);
  for (let i = 0; i < 60; i++) {
    first.log.append(RecordType.message, Buffer.from(`m${i}`.padEnd(40, '.')));
    await commit(first.log); // a round per record, so the segment is zero-filled while it is current
  }
  const size = statSync(segmentPath(directory, 1)).size;
  assert.ok(size > 41 * 49 && size <= 2048, `segment 1 holds 41 records and zeros, within the segment size: ${size} bytes`);
  first.log.close();
  const second = openLog(directory, 2048);
  assert.equal(second.records.length, 60);
  assert.deepEqual(second.recovery, { droppedRecords: 0, warnings: [] });
});

test('rounds that fill much of the room get no zeros; the zeros are at most ZERO_FILL_AHEAD_MAX_BYTES ahead', async () => {
  const directory = temporaryDirectory(cleanups);
  const path = segmentPath(directory, 1);
  const { log } = openLog(directory, 8 << 20);
  const record = Buffer.alloc(64 * 1024 - 9, 'x'); // 64 KiB with its header
  for (let round = 1; round <= 3; round++) {
    for (let i = 0; i < 4; i++) log.append(RecordType.message, record);
    await commit(log);
    assert.equal(statSync(path).size, round * 4 * 64 * 1024, `round ${round} of 256 KiB: no zeros while the room would be 1 MiB at most`);
  }
  for (let i = 0; i < 12; i++) log.append(RecordType.message, record);
  await commit(log); // 1.5 MiB in all
  log.append(RecordType.message, record);
  await commit(log);
  assert.equal(statSync(path).size, 25 * 64 * 1024 + ZERO_FILL_AHEAD_MAX_BYTES);
});

test('a torn record followed by zeros is still a torn tail: cut off, with a warning', async () => {
  const { directory, path } = await fiveRecordsOnDisk();
  const bytes = readFileSync(path);
  bytes.fill(0, 4 * 49 + 20, 5 * 49); // the last record's second half never reached the disk
  writeFileSync(path, bytes);
  const second = openLog(directory, 1 << 20);
  assert.deepEqual(texts(second), ['m0', 'm1', 'm2', 'm3']);
  assert.equal(second.recovery.droppedRecords, 1);
  assert.match(second.recovery.warnings.join('\n'), /torn or corrupt tail of \d+ bytes at offset 196 truncated/);
  assert.equal(statSync(path).size, 4 * 49);
});

test('zeros in the middle of a zero-filled segment are corruption, not its end: the records after them are kept', async () => {
  // A crash can leave a page of a round's write unwritten (zeros over the room filled ahead) and a later one written.
  const { directory, path, locations } = await fiveRecordsOnDisk();
  const bytes = readFileSync(path);
  bytes.fill(0, offsetOf(locations[1] as MessageLocation), offsetOf(locations[3] as MessageLocation));
  writeFileSync(path, bytes);
  const second = openLog(directory, 1 << 20);
  assert.deepEqual(texts(second), ['m0', 'm3', 'm4']);
  assert.equal(second.recovery.droppedRecords, 1);
  assert.match(second.recovery.warnings.join('\n'), /98 corrupt bytes at offset 49 skipped/);
});

test('after a corrupt record, a last record whose payload is all zeros is still found', async () => {
  // Its type byte is the last non-zero byte of the file: the resynchronising scan must reach it.
  const directory = temporaryDirectory(cleanups);
  const { log } = openLog(directory, 1 << 20);
  log.append(RecordType.message, Buffer.from('m0'.padEnd(40, '.')));
  const damaged = log.append(RecordType.message, Buffer.from('m1'.padEnd(40, '.')));
  log.append(RecordType.message, Buffer.alloc(40));
  await commit(log);
  log.close();
  const path = segmentPath(directory, 1);
  const bytes = readFileSync(path);
  bytes.writeUInt32BE(0x00fffff0, offsetOf(damaged));
  writeFileSync(path, bytes);
  const second = openLog(directory, 1 << 20);
  assert.deepEqual(second.records.map((record) => record.text), ['m0'.padEnd(40, '.'), '\0'.repeat(40)]);
  assert.equal(second.recovery.droppedRecords, 1);
});
