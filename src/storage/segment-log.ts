/**
 * An append-only log of records split into numbered segment files (00000001.seg, ...), with a small
 * MANIFEST log recording which segments were created and deleted. The manifest is what tells a segment
 * deleted on purpose (all its records dead) from one that went missing, and a segment deleted but not
 * yet unlinked at a crash from a live one.
 *
 * Appends go to an in-memory buffer; flush() hands it to the file as one write. Durability comes from
 * the group-commit round that calls flush(), fsyncs the returned targets, then afterSync(). Deleting a
 * segment is two-step: the DELETED record is made durable first, and only then is the file unlinked.
 */
import { join } from 'node:path';
import type { MessageLocation } from '../broker/ports.js';
import { locationOf, offsetOf, segmentOf } from './location.js';
import { assert } from '../util/assert.js';
import type { Logger } from '../util/logger.js';
import { DurableFile, directorySyncTarget, type SyncTarget } from './durable-file.js';
import { RECORD_HEADER_BYTES, RECORD_PAYLOAD_MAX_BYTES, RecordType, encodeRecord, scanRecords, sealRecord, validRecordAt } from './records.js';
import { readFileIfExists, unlinkIfExists, unlinkInOrder, writeFileAtomically, type StorageFs } from './storage-fs.js';

/** Default largest segment file: a record that would cross it starts a new segment. */
export const SEGMENT_SIZE_DEFAULT_BYTES = 8 * 1024 * 1024;
/** Name of the segment manifest inside a log directory. */
export const MANIFEST_FILE = 'MANIFEST';

const APPEND_BUFFER_INITIAL_BYTES = 64 * 1024;
/** An append buffer larger than this (grown for large records) is replaced once flushed. */
const APPEND_BUFFER_KEPT_MAX_BYTES = 1024 * 1024;
/**
 * Reads from disk fetch this much at once and keep it: a consumer draining a backlog reads records in
 * order, so one read(2) then serves hundreds of small messages instead of one each.
 */
const READ_BLOCK_BYTES = 64 * 1024;
/**
 * How far past its end the current segment is kept zero-filled, at most. An fdatasync after an append
 * that grew the file must also commit the new size (and the blocks allocated for it) to the filesystem
 * journal; one after writing over blocks already written only flushes the data, which here takes about
 * half as long (16 KB: about 110 us against 220 us). So flush() writes zeros ahead of the appends, as far
 * ahead as the segment already holds (a queue that writes little gets little room, one that writes
 * much gets up to this) and never past the segment size. Recovery reads zeros after the last record
 * as the end of the log (records.ts: no record type is 0).
 */
export const ZERO_FILL_AHEAD_MAX_BYTES = 1024 * 1024;
/**
 * Zeros are written ahead only while a flush appends at most this fraction of the room: the round that
 * writes them grows the file (and writes every byte twice), which pays only when several rounds after it
 * fit in the room. Large rounds (bulk publishing, large messages) append as before.
 */
const ZERO_FILL_ROUNDS_PER_ROOM = 8;
const SEGMENT_FILE = /^(\d{8,})\.seg$/;
const COMPANION_FILE = /^(\d{8,})(\.[a-z]+)$/;

/** Thrown when a record read back fails its length or checksum check. */
export class StorageCorruptionError extends Error {
  /** Creates the error for the file and offset. */
  constructor(path: string, offset: number, detail: string) {
    super(`corrupt record in ${path} at offset ${offset}: ${detail}`);
    this.name = 'StorageCorruptionError';
  }
}

/** Options for SegmentLog.open. */
export interface SegmentLogOptions {
  fs: StorageFs;
  /** A record that would make a segment larger than this starts a new one (a larger record gets a segment alone). */
  segmentSizeBytes: number;
  /** Record types valid in segments; others are corruption. */
  recordTypes: readonly number[];
  /** Extensions of per-segment companion files (".ack"): unlinked with their segment. */
  companionExtensions: readonly string[];
  logger?: Logger;
  /** Called when a segment stops being the one appended to (so its owner can delete it if it is dead). */
  onRollover?: (segment: number) => void;
  /** Called just before a deleted segment's files are unlinked (so its owner can close companions). */
  onSegmentRemoved?: (segment: number) => void;
}

/** Receives the records of the live segments at recovery, in order. */
export interface SegmentVisitor {
  /** A segment's records follow. */
  beginSegment(segment: number): void;
  /** One valid record; `payload` is only valid during the call (copy what you keep). */
  record(segment: number, offset: number, type: number, payload: Buffer): void;
}

/** What recovery repaired. */
export interface LogRecovery {
  droppedRecords: number;
  warnings: string[];
}

/** File name of segment `n` with the given extension. */
export function segmentFileName(segment: number, extension = '.seg'): string {
  return `${String(segment).padStart(8, '0')}${extension}`;
}

/** A segmented append-only record log in one directory. */
export class SegmentLog {
  private readonly segments = new Map<number, DurableFile>();
  private currentSegment: number;
  private highestSegment: number;
  /**
   * Appended records not yet handed to the file are [flushed, used) of this buffer. What flush() hands
   * over stays in place (the file's chunk is a view of it) and appends continue after it, so a flush
   * neither copies nor allocates; a new buffer is started only when this one runs out of room.
   */
  private buffer = Buffer.allocUnsafe(APPEND_BUFFER_INITIAL_BYTES);
  private flushed = 0;
  private used = 0;
  private recordStart = -1;
  private recordType = 0;
  private manifest: DurableFile;
  private manifestRecords: number;
  private manifestPending: Buffer[] = [];
  private requestedDeletions: number[] = [];
  private deletionsInFlight: number[] = [];
  private directoryDirty = false;
  private readSegment: number | undefined;
  private readBlock: { segment: number; position: number; bytes: Buffer; used: boolean } | undefined;
  private startedNewSegment = false;
  /** How far the current segment's file is known to hold written bytes (records or zeros). */
  private zeroedEnd = 0;

  private constructor(
    readonly directory: string,
    private readonly options: SegmentLogOptions,
    state: RecoveredState,
  ) {
    for (const [segment, size] of state.sizes) this.segments.set(segment, new DurableFile(options.fs, this.pathOf(segment), size));
    this.highestSegment = state.highestSegment;
    this.manifest = new DurableFile(options.fs, join(directory, MANIFEST_FILE), state.manifestSize);
    this.manifestRecords = state.manifestRecords;
    const last = [...state.sizes.keys()].pop();
    if (last !== undefined && (state.sizes.get(last) as number) < options.segmentSizeBytes) {
      this.currentSegment = last;
      this.zeroedEnd = state.lastFileEnd;
    } else {
      this.currentSegment = this.createSegment();
      this.startedNewSegment = true;
    }
  }

  /** Opens (creating if needed) the log in `directory`, replaying every live record into `visitor`. */
  static open(directory: string, options: SegmentLogOptions, visitor: SegmentVisitor): { log: SegmentLog; recovery: LogRecovery } {
    options.fs.mkdirSync(directory, { recursive: true });
    const recovery: LogRecovery = { droppedRecords: 0, warnings: [] };
    const state = recoverSegments(directory, options, visitor, recovery);
    const log = new SegmentLog(directory, options, state);
    // A segment started at open is listed at once, so a stop before the first round cannot make it look missing.
    if (state.manifestNeedsRewrite || log.startedNewSegment) log.rewriteManifest();
    for (const warning of recovery.warnings) options.logger?.warn({ directory }, warning);
    return { log, recovery };
  }

  /** The segment being appended to. */
  get current(): number {
    return this.currentSegment;
  }

  /** Bytes in the current segment, including appends not yet flushed: where the next record goes. */
  get currentSize(): number {
    return this.currentFile().size + this.used - this.flushed;
  }

  /** Makes later appends go to a new segment (the current one becomes an older one, deleted once dead). */
  startNewSegment(): void {
    assert(this.recordStart < 0, 'new segment inside a record');
    this.rollover();
  }

  /** Live segment numbers, ascending (including the current one). */
  liveSegments(): number[] {
    return [...this.segments.keys()].filter((segment) => !this.isDeleted(segment)).sort((a, b) => a - b);
  }

  /** True when appended bytes, manifest changes or deletions wait for a flush. */
  get dirty(): boolean {
    return this.used > this.flushed || this.manifestPending.length > 0 || this.requestedDeletions.length > 0 || this.deletionsInFlight.length > 0;
  }

  /**
   * Starts a record of `payloadBytes` bytes and returns where its payload goes in `appendBuffer`; write
   * the payload there, then call endRecord(). Avoids building each message in a buffer of its own.
   */
  beginRecord(type: number, payloadBytes: number): number {
    assert(this.recordStart < 0, 'beginRecord without endRecord');
    assert(payloadBytes <= RECORD_PAYLOAD_MAX_BYTES, 'record too large');
    const recordBytes = RECORD_HEADER_BYTES + payloadBytes;
    const segmentBytes = this.currentFile().size + this.used - this.flushed;
    if (segmentBytes > 0 && segmentBytes + recordBytes > this.options.segmentSizeBytes) this.rollover();
    this.ensure(recordBytes);
    this.recordStart = this.used;
    this.recordType = type;
    return this.used + RECORD_HEADER_BYTES;
  }

  /** The buffer beginRecord() reserved room in. */
  get appendBuffer(): Buffer {
    return this.buffer;
  }

  /** Seals the record begun by beginRecord() (length and CRC) and returns where it lives. */
  endRecord(payloadBytes: number): MessageLocation {
    assert(this.recordStart >= 0, 'endRecord without beginRecord');
    sealRecord(this.buffer, this.recordStart, this.recordType, payloadBytes);
    const offset = this.currentFile().size + this.recordStart - this.flushed;
    this.used = this.recordStart + RECORD_HEADER_BYTES + payloadBytes;
    this.recordStart = -1;
    return locationOf(this.currentSegment, offset);
  }

  /** Appends a record with the given payload. */
  append(type: number, payload: Uint8Array): MessageLocation {
    const at = this.beginRecord(type, payload.length);
    this.buffer.set(payload, at);
    return this.endRecord(payload.length);
  }

  /** Reads a record's payload back, checking its length, type and CRC; throws StorageCorruptionError. */
  read(location: MessageLocation, expectedTypes: readonly number[]): Buffer {
    const segment = segmentOf(location);
    const offset = offsetOf(location);
    const file = this.segments.get(segment);
    assert(file !== undefined && !this.isDeleted(segment), `read of segment ${segment}, which is not live`);
    if (segment === this.currentSegment && offset >= file.size) {
      return this.checkedPayload(this.buffer.subarray(this.flushed, this.used), offset - file.size, file.path, offset, expectedTypes);
    }
    this.noteRead(segment);
    const block = this.readBlock;
    if (block !== undefined && block.segment === segment && offset >= block.position && recordFits(block.bytes, offset - block.position)) {
      block.used = true;
      return this.checkedPayload(block.bytes, offset - block.position, file.path, offset, expectedTypes);
    }
    let bytes = file.readAt(offset, READ_BLOCK_BYTES);
    if (!recordFits(bytes, 0) && bytes.length >= RECORD_HEADER_BYTES) {
      const needed = RECORD_HEADER_BYTES + bytes.readUInt32BE(0);
      // A record larger than a block is read whole (if its length is plausible); the check below catches the rest.
      if (needed <= RECORD_HEADER_BYTES + RECORD_PAYLOAD_MAX_BYTES && offset + needed <= file.size) bytes = file.readAt(offset, needed);
    }
    this.readBlock = { segment, position: offset, bytes, used: true };
    return this.checkedPayload(bytes, 0, file.path, offset, expectedTypes);
  }

  /** Marks a segment (not the current one) dead: it is unlinked once its DELETED record is durable. */
  deleteSegment(segment: number): void {
    assert(segment !== this.currentSegment, 'deleting the segment being written');
    assert(this.segments.has(segment) && !this.isDeleted(segment), `deleting segment ${segment} twice`);
    this.requestedDeletions.push(segment);
  }

  /** Drops every record: starts a new segment and deletes all older ones (queue.purge). */
  deleteAllSegments(): void {
    assert(this.recordStart < 0, 'purge inside a record');
    this.used = this.flushed; // Records not yet flushed are purged too: never write them.
    const old = this.liveSegments();
    this.rollover(false);
    for (const segment of old) this.requestedDeletions.push(segment);
  }

  /** Hands buffered bytes and manifest changes to their files and writes them; pushes what needs an fsync. Throws write errors. */
  flush(targets: SyncTarget[]): void {
    this.moveBufferToFile();
    for (const segment of this.requestedDeletions) this.manifestPending.push(manifestRecord(RecordType.segmentDeleted, segment));
    this.deletionsInFlight.push(...this.requestedDeletions);
    this.requestedDeletions = [];
    if (this.manifestPending.length > 0) {
      this.manifest.enqueue(Buffer.concat(this.manifestPending));
      this.manifestRecords += this.manifestPending.length;
      this.manifestPending = [];
      if (this.manifestRecords > 64 + 4 * this.segments.size) this.rewriteManifest();
    }
    this.zeroFillAhead();
    for (const file of this.segments.values()) {
      if (!file.dirty) continue;
      file.write();
      targets.push(file);
    }
    if (this.manifest.dirty) {
      this.manifest.write();
      targets.push(this.manifest);
    }
    if (this.directoryDirty) {
      this.directoryDirty = false;
      targets.push(directorySyncTarget(this.options.fs, this.directory, () => (this.directoryDirty = true)));
    }
  }

  /**
   * After a round's fsyncs: lets go of the segments whose deletion is durable, pushing their files onto
   * `removals` for the caller to unlink (removeSegmentFiles), and closes idle descriptors.
   */
  afterSync(removals: SegmentFiles[]): void {
    // An idle queue should not hold a read block: keep it only while reads keep using it.
    if (this.readBlock !== undefined && !this.readBlock.used) this.readBlock = undefined;
    else if (this.readBlock !== undefined) this.readBlock.used = false;
    if (!this.manifest.dirty) {
      for (const segment of this.deletionsInFlight) this.releaseSegment(segment, removals);
      this.deletionsInFlight = [];
    }
    for (const [segment, file] of this.segments) {
      if (segment !== this.currentSegment && segment !== this.readSegment && !file.dirty && !file.busy) file.close();
    }
  }

  /** Closes every descriptor without flushing (the owner flushes first; a crash test skips that). */
  close(): void {
    for (const file of this.segments.values()) if (!file.busy) file.close();
    if (!this.manifest.busy) this.manifest.close();
  }

  private isDeleted(segment: number): boolean {
    return this.requestedDeletions.includes(segment) || this.deletionsInFlight.includes(segment);
  }

  private currentFile(): DurableFile {
    return this.segments.get(this.currentSegment) as DurableFile;
  }

  private pathOf(segment: number, extension = '.seg'): string {
    return join(this.directory, segmentFileName(segment, extension));
  }

  private checkedPayload(bytes: Buffer, at: number, path: string, offset: number, expectedTypes: readonly number[]): Buffer {
    const length = validRecordAt(bytes, at, expectedTypes);
    if (length < 0) throw new StorageCorruptionError(path, offset, 'length, type or checksum does not match');
    return Buffer.from(bytes.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length));
  }

  /** Keeps one older segment's descriptor open for sequential reads; the previous one is closed when idle. */
  private noteRead(segment: number): void {
    if (segment === this.readSegment) return;
    const previous = this.readSegment === undefined ? undefined : this.segments.get(this.readSegment);
    this.readSegment = segment;
    if (previous !== undefined && previous !== this.currentFile() && !previous.dirty && !previous.busy) previous.close();
  }

  /** Makes room for `bytes` more: a new buffer (doubling while too small) takes the records not yet flushed. */
  private ensure(bytes: number): void {
    if (this.used + bytes <= this.buffer.length) return;
    const pending = this.used - this.flushed;
    let capacity = Math.max(APPEND_BUFFER_INITIAL_BYTES, Math.min(this.buffer.length, APPEND_BUFFER_KEPT_MAX_BYTES));
    while (capacity < pending + bytes) capacity *= 2;
    const next = Buffer.allocUnsafe(capacity);
    this.buffer.copy(next, 0, this.flushed, this.used);
    this.buffer = next;
    this.flushed = 0;
    this.used = pending;
  }

  /** Gives the buffered records to the current file as one chunk: a view of the buffer, not a copy. */
  private moveBufferToFile(): void {
    if (this.used === this.flushed) return;
    this.currentFile().enqueue(this.buffer.subarray(this.flushed, this.used));
    this.flushed = this.used;
    // A buffer grown by a burst of large records is let go of (the file's chunk keeps it until its fsync).
    if (this.buffer.length > APPEND_BUFFER_KEPT_MAX_BYTES) {
      this.buffer = Buffer.allocUnsafe(APPEND_BUFFER_KEPT_MAX_BYTES);
      this.flushed = 0;
      this.used = 0;
    }
  }

  /**
   * Keeps zeros written past the current segment's end (ZERO_FILL_AHEAD_MAX_BYTES), topping them up
   * once less than half the room is left, so that most rounds write over blocks already written.
   */
  private zeroFillAhead(): void {
    const file = this.currentFile();
    const appended = file.unwrittenBytes;
    if (appended === 0) return;
    const end = file.size;
    const ahead = Math.min(end, ZERO_FILL_AHEAD_MAX_BYTES, this.options.segmentSizeBytes - end);
    if (ahead <= 0 || this.zeroedEnd - end >= ahead / 2 || appended * ZERO_FILL_ROUNDS_PER_ROOM > ahead) return;
    const from = Math.max(this.zeroedEnd, end);
    try {
      file.writeZeros(from, end + ahead - from);
      this.zeroedEnd = end + ahead;
    } catch (error) {
      // Only a speed-up: the appends go on without it (and their own write reports a full disk).
      this.options.logger?.debug({ path: file.path, error: String(error) }, 'could not zero-fill ahead of appends');
    }
  }

  private rollover(notify = true): void {
    this.moveBufferToFile();
    const previous = this.currentSegment;
    this.currentSegment = this.createSegment();
    if (notify) this.options.onRollover?.(previous);
  }

  /** Asks the next flush to fsync the directory (a companion file was created in it). */
  markDirectoryDirty(): void {
    this.directoryDirty = true;
  }

  private createSegment(): number {
    const segment = ++this.highestSegment;
    const file = new DurableFile(this.options.fs, this.pathOf(segment), 0);
    // Created now, even if nothing is ever written to it, so that the manifest never lists a file that is absent.
    file.create();
    this.zeroedEnd = 0;
    this.segments.set(segment, file);
    this.manifestPending.push(manifestRecord(RecordType.segmentCreated, segment));
    this.directoryDirty = true;
    return segment;
  }

  /**
   * Replaces the manifest with one CREATED record per live segment, atomically. This also makes every
   * requested deletion durable at once, since deleted segments are simply absent.
   */
  private rewriteManifest(): void {
    const live = this.liveSegments();
    const bytes = Buffer.concat(live.map((segment) => manifestRecord(RecordType.segmentCreated, segment)));
    this.manifest.close();
    writeFileAtomically(this.options.fs, this.manifest.path, bytes);
    this.manifest = new DurableFile(this.options.fs, this.manifest.path, bytes.length);
    this.manifestRecords = live.length;
    this.manifestPending = [];
    // writeFileAtomically synced the directory, which also made the names of the segments created so far durable.
    this.directoryDirty = false;
    this.deletionsInFlight.push(...this.requestedDeletions);
    this.requestedDeletions = [];
  }

  private releaseSegment(segment: number, removals: SegmentFiles[]): void {
    const file = this.segments.get(segment);
    if (file === undefined) return;
    file.close();
    this.segments.delete(segment);
    if (this.readSegment === segment) this.readSegment = undefined;
    if (this.readBlock?.segment === segment) this.readBlock = undefined;
    this.options.onSegmentRemoved?.(segment);
    // The segment goes before its companions: an ack file outliving its segment is harmless, the reverse
    // would revive acknowledged messages if the manifest were lost.
    const companions = this.options.companionExtensions.map((extension) => this.pathOf(segment, extension));
    removals.push({ directory: this.directory, segment, paths: [file.path, ...companions], logger: this.options.logger });
  }
}

/** The files of a segment whose deletion is durable, to unlink in this order. */
export interface SegmentFiles {
  readonly directory: string;
  readonly segment: number;
  readonly paths: readonly string[];
  readonly logger: Logger | undefined;
}

/**
 * Unlinks a deleted segment's files on the libuv thread pool (unlinking a large file takes milliseconds
 * the event loop need not wait for), then calls back. A failure is only logged: the DELETED record is
 * durable, so recovery finishes the job, and a failing unlink must not stop the broker.
 */
export function removeSegmentFiles(files: StorageFs, removal: SegmentFiles, done: () => void): void {
  unlinkInOrder(files, removal.paths, (error) => {
    if (error !== undefined) {
      removal.logger?.warn({ directory: removal.directory, segment: removal.segment, error: String(error) }, 'could not remove a deleted segment');
    }
    done();
  });
}

/** True when `bytes` holds a whole record (by its length field) at `at`. */
function recordFits(bytes: Buffer, at: number): boolean {
  return at + RECORD_HEADER_BYTES <= bytes.length && at + RECORD_HEADER_BYTES + bytes.readUInt32BE(at) <= bytes.length;
}

function manifestRecord(type: number, segment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(segment, 0);
  return encodeRecord(type, payload);
}

/** What recovery found, for the constructor. */
interface RecoveredState {
  /** Valid size of every live segment, ascending by segment. */
  sizes: Map<number, number>;
  /** Where the last segment's file ends: past its valid size when zeros follow its last record. */
  lastFileEnd: number;
  highestSegment: number;
  manifestSize: number;
  manifestRecords: number;
  manifestNeedsRewrite: boolean;
}

/** The manifest replayed: live segments, the highest segment it knows, and how trustworthy it was. */
interface ManifestState {
  exists: boolean;
  live: Set<number>;
  highest: number;
  records: number;
  size: number;
  damaged: boolean;
  tornTail: boolean;
}

function readManifest(files: StorageFs, path: string, recovery: LogRecovery): ManifestState {
  // Manifest damage is reported as a warning, not counted in droppedRecords: no message is lost by it.
  const data = readFileIfExists(files, path);
  const state: ManifestState = { exists: data !== undefined, live: new Set(), highest: 0, records: 0, size: 0, damaged: false, tornTail: false };
  if (data === undefined) return state;
  const scan = scanRecords(data, [RecordType.segmentCreated, RecordType.segmentDeleted]);
  for (const record of scan.records) {
    if (record.payloadEnd - record.payloadStart !== 4) continue;
    const segment = data.readUInt32BE(record.payloadStart);
    state.highest = Math.max(state.highest, segment);
    if (record.type === RecordType.segmentCreated) state.live.add(segment);
    else state.live.delete(segment);
  }
  state.records = scan.records.length;
  state.size = data.length;
  // A torn tail is what a crash during a round leaves: its records were never durable, so nothing acted on
  // them (unlinks wait for durability) and the records before it are still the truth. Corruption with valid
  // records after it is different: records that were acted on may be gone.
  state.tornTail = scan.validEnd < data.length;
  const middle = scan.corrupt.filter((region) => region.end < data.length).length;
  if (middle > 0) {
    state.damaged = true;
    recovery.warnings.push(`${path}: ${middle} corrupt region(s) skipped; the manifest is rewritten`);
  }
  return state;
}

/** Lists the directory, settles it against the manifest, and replays the live segments. */
function recoverSegments(directory: string, options: SegmentLogOptions, visitor: SegmentVisitor, recovery: LogRecovery): RecoveredState {
  const files = options.fs;
  const manifest = readManifest(files, join(directory, MANIFEST_FILE), recovery);
  const names = files.readdirSync(directory);
  const onDisk = names.flatMap((name) => {
    const match = SEGMENT_FILE.exec(name);
    return match === null ? [] : [Number(match[1])];
  });
  onDisk.sort((a, b) => a - b);
  // With an intact manifest, a file it does not list is either newer than anything it knows (created just
  // before a crash, before its CREATED record was durable: live) or a segment deleted on purpose whose
  // unlink did not reach the disk (its DELETED record may since have been compacted away): remove it.
  // A damaged or missing manifest proves nothing, so then every file present is kept.
  const trusted = manifest.exists && !manifest.damaged;
  if (!trusted && onDisk.length > 0) {
    recovery.warnings.push(`${directory}: the segment manifest is missing or damaged; every segment file present is taken as live`);
  }
  const live: number[] = [];
  let unlisted = 0;
  for (const segment of onDisk) {
    if (!trusted || manifest.live.has(segment)) {
      live.push(segment);
    } else if (segment > manifest.highest) {
      unlisted++;
      live.push(segment);
    } else {
      unlinkIfExists(files, join(directory, segmentFileName(segment)));
    }
  }
  const missing = [...manifest.live].filter((segment) => !live.includes(segment)).sort((a, b) => a - b);
  for (const segment of missing) {
    recovery.warnings.push(`segment ${segmentFileName(segment)} is missing from ${directory}: its records are lost`);
  }
  removeOrphans(files, directory, names, new Set(live), options.companionExtensions);
  const sizes = new Map<number, number>();
  let lastFileEnd = 0;
  for (const segment of live) {
    const replayed = replaySegment(directory, options, segment, segment === live.at(-1), visitor, recovery);
    sizes.set(segment, replayed.size);
    lastFileEnd = replayed.fileEnd;
  }
  const highestSegment = Math.max(manifest.highest, onDisk.at(-1) ?? 0);
  const manifestNeedsRewrite = !trusted || manifest.tornTail || missing.length > 0 || unlisted > 0 || manifest.records > 64 + 4 * live.length;
  return { sizes, lastFileEnd, highestSegment, manifestSize: manifest.size, manifestRecords: manifest.records, manifestNeedsRewrite };
}

/** Removes companion files of segments that are no longer live, and temporary files of interrupted rewrites. */
function removeOrphans(files: StorageFs, directory: string, names: string[], live: Set<number>, extensions: readonly string[]): void {
  for (const name of names) {
    const match = COMPANION_FILE.exec(name);
    const orphan = match !== null && extensions.includes(match[2] as string) && !live.has(Number(match[1]));
    if (orphan || name.endsWith('.tmp')) unlinkIfExists(files, join(directory, name));
  }
}

/**
 * Replays one segment's valid records; returns its valid size (a torn tail of the last segment is cut
 * off) and where its file ends (past the valid size when zeros follow the last record).
 */
function replaySegment(
  directory: string,
  options: SegmentLogOptions,
  segment: number,
  isLast: boolean,
  visitor: SegmentVisitor,
  recovery: LogRecovery,
): { size: number; fileEnd: number } {
  const path = join(directory, segmentFileName(segment));
  const data = options.fs.readFileSync(path);
  visitor.beginSegment(segment);
  const scan = scanRecords(data, options.recordTypes);
  for (const record of scan.records) {
    visitor.record(segment, record.offset, record.type, data.subarray(record.payloadStart, record.payloadEnd));
  }
  // Zeros after the last record are the room zeroFillAhead made (or a crash left): no record was there.
  // They stay: appends go over them.
  if (scan.zeroTail) scan.corrupt.pop();
  for (const region of scan.corrupt) {
    recovery.droppedRecords++;
    const bytes = region.end - region.start;
    if (isLast && region.end === data.length) {
      recovery.warnings.push(`${path}: torn or corrupt tail of ${bytes} bytes at offset ${region.start} truncated`);
    } else {
      recovery.warnings.push(`${path}: ${bytes} corrupt bytes at offset ${region.start} skipped (at least one record lost)`);
    }
  }
  if (scan.zeroTail) return { size: scan.validEnd, fileEnd: data.length };
  if (!isLast || scan.validEnd === data.length) return { size: data.length, fileEnd: data.length };
  // Later appends go after the last valid record, so the torn bytes must go or they would sit mid-log.
  const file = new DurableFile(options.fs, path, data.length);
  file.truncate(scan.validEnd);
  file.writeAndSyncNow();
  file.close();
  return { size: scan.validEnd, fileEnd: scan.validEnd };
}
