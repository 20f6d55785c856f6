/**
 * One durable queue's persistent messages: a segment log of message records, plus one small companion
 * file per segment (NNNNNNNN.ack) holding batches of acknowledged and delivered offsets of that
 * segment's messages. Keeping acks next to the segment they refer to means no file ever refers to
 * another: when a segment has no live message left it is deleted together with its ack file, so disk
 * use follows the live backlog.
 */
import { join } from 'node:path';
import type { MessageLocation, QueueMessageStore, QueueRecovery, StoredMessage } from '../broker/ports.js';
import { assert } from '../util/assert.js';
import type { Logger } from '../util/logger.js';
import { DurableFile, type SyncTarget } from './durable-file.js';
import { locationOf, offsetOf, segmentOf } from './location.js';
import { RECORD_HEADER_BYTES, RecordType, encodeRecord, scanRecords } from './records.js';
import { RecordOffsets } from './record-offsets.js';
import { SegmentLog, StorageCorruptionError, segmentFileName, type SegmentFiles } from './segment-log.js';
import { readFileIfExists, type StorageFs } from './storage-fs.js';

const ACK_EXTENSION = '.ack';
/** Fixed part of a message payload: exchange length (u8), routing key length (u8), properties length (u32). */
const MESSAGE_FIXED_BYTES = 6;
/** The smallest message record: how close two records of a segment can start. */
const RECORD_MIN_BYTES = RECORD_HEADER_BYTES + MESSAGE_FIXED_BYTES;
/** Distinct strings or property blocks an interner keeps at most (messages with unique properties stop it). */
const INTERNED_MAX = 256;
/** Record types a queue's segments hold. */
const MESSAGE_RECORD_TYPES = [RecordType.message, RecordType.transientMessage];

/** How a queue store reports to the message store that owns it. */
export interface QueueStoreHost {
  /** The queue has unflushed changes of about `bytes` bytes. */
  markDirty(queue: QueueStore, bytes: number): void;
  /** queue.delete: the host removes the queue's directory. */
  destroyQueue(queue: QueueStore): void;
}

/** Options for QueueStore.open. */
export interface QueueStoreOptions {
  fs: StorageFs;
  segmentSizeBytes: number;
  host: QueueStoreHost;
  logger?: Logger;
  /** Recovered messages past this many are returned without their message (paged out). */
  bodiesInMemory?: number;
}

/** Per-segment bookkeeping: live count, acknowledged offsets, marks waiting for the next flush. */
interface SegmentState {
  live: number;
  /** Offsets acknowledged, so a repeated ack cannot lower `live` twice. */
  acked: RecordOffsets;
  pendingAcks: number[];
  pendingDelivered: number[];
  ackFile: DurableFile;
  ackFileExists: boolean;
  /** Set once the segment is dead and its deletion requested. */
  deleted: boolean;
}

/** The persistent messages of one durable queue. */
export class QueueStore implements QueueMessageStore {
  private readonly segments = new Map<number, SegmentState>();
  private log!: SegmentLog;
  private destroyed = false;
  private liveCount = 0;
  private interner: Interner | undefined = new Interner();

  private constructor(
    /** The queue's directory. */
    readonly directory: string,
    /** The queue's vhost. */
    readonly vhost: string,
    /** The queue's name. */
    readonly name: string,
    private readonly options: QueueStoreOptions,
  ) {}

  /** Opens the queue's directory (creating it if needed) and recovers its unacknowledged messages. */
  static open(directory: string, vhost: string, name: string, options: QueueStoreOptions): { store: QueueStore; recovery: QueueRecovery } {
    const store = new QueueStore(directory, vhost, name, options);
    const recovery: QueueRecovery = { messages: [], pagedOut: { locations: [], redelivered: new Set(), sizes: [] }, droppedRecords: 0, warnings: [] };
    const delivered = new Map<number, Set<number>>();
    const opened = SegmentLog.open(
      directory,
      {
        fs: options.fs,
        segmentSizeBytes: options.segmentSizeBytes,
        recordTypes: MESSAGE_RECORD_TYPES,
        companionExtensions: [ACK_EXTENSION],
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        onRollover: (segment) => store.retireIfDead(segment),
        onSegmentRemoved: (segment) => store.forgetSegment(segment),
      },
      {
        beginSegment: (segment) => delivered.set(segment, store.loadMarks(segment, recovery)),
        record: (segment, offset, type, payload) => {
          // Transient records were only paged out of memory: they do not outlive the broker.
          if (type === RecordType.message) store.recoverRecord(segment, offset, payload, delivered.get(segment), recovery);
        },
      },
    );
    store.log = opened.log;
    // Marks past the end of the segment appended to belong to records that never became durable (the ack
    // file was written or fsynced before the segment: a full disk, a crash between their fsyncs). A new
    // record there would count as acknowledged at once, and vanish at the next start: append elsewhere.
    const current = store.segments.get(store.log.current);
    const end = store.log.currentSize;
    const markedPastEnd = [...(delivered.get(store.log.current) ?? [])].some((offset) => offset >= end);
    if (current !== undefined && (current.acked.hasFrom(end) || markedPastEnd)) store.log.startNewSegment();
    recovery.droppedRecords += opened.recovery.droppedRecords;
    recovery.warnings.push(...opened.recovery.warnings);
    for (const segment of [...store.segments.keys()]) store.retireIfDead(segment);
    store.interner = undefined;
    return { store, recovery };
  }

  /** Number of stored messages not yet acknowledged. */
  get messageCount(): number {
    return this.liveCount;
  }

  /** Appends a persistent message (buffered; durable after the next sync) and returns where it lives. */
  append(message: StoredMessage): MessageLocation {
    return this.write(RecordType.message, message);
  }

  /** Writes a transient message out of memory: readable and ackable, skipped by recovery. */
  appendTransient(message: StoredMessage): MessageLocation {
    return this.write(RecordType.transientMessage, message);
  }

  private write(type: number, message: StoredMessage): MessageLocation {
    assert(!this.destroyed, 'append to a destroyed queue store');
    const exchangeBytes = utf8Length(message.exchange);
    const routingKeyBytes = utf8Length(message.routingKey);
    assert(exchangeBytes <= 255 && routingKeyBytes <= 255, 'exchange and routing key are AMQP short strings');
    const size = MESSAGE_FIXED_BYTES + exchangeBytes + routingKeyBytes + message.rawProperties.length + message.body.length;
    let at = this.log.beginRecord(type, size);
    const buffer = this.log.appendBuffer;
    buffer[at++] = exchangeBytes;
    at += writeUtf8(buffer, message.exchange, exchangeBytes, at);
    buffer[at++] = routingKeyBytes;
    at += writeUtf8(buffer, message.routingKey, routingKeyBytes, at);
    buffer.writeUInt32BE(message.rawProperties.length, at);
    at += 4;
    at += message.rawProperties.copy(buffer, at);
    message.body.copy(buffer, at);
    const location = this.log.endRecord(size);
    this.stateOf(segmentOf(location)).live++;
    this.liveCount++;
    this.options.host.markDirty(this, size);
    return location;
  }

  /** Records that a message was delivered, so recovery marks it redelivered. */
  markDelivered(location: MessageLocation): void {
    const state = this.segments.get(segmentOf(location));
    const offset = offsetOf(location);
    if (state === undefined || state.deleted || state.acked.has(offset)) return;
    state.pendingDelivered.push(offset);
    this.options.host.markDirty(this, 4);
  }

  /** Records an acknowledgement (or a drop): the message never comes back. Repeated or stale acks are ignored. */
  ack(location: MessageLocation): void {
    const segment = segmentOf(location);
    const offset = offsetOf(location);
    const state = this.segments.get(segment);
    // A purged or deleted segment's messages are gone already, and a second ack must not count twice.
    if (state === undefined || state.deleted || state.acked.has(offset)) return;
    state.acked.add(offset);
    state.pendingAcks.push(offset);
    state.live--;
    this.liveCount--;
    this.options.host.markDirty(this, 4);
    if (state.live === 0) this.retireIfDead(segment);
  }

  /** Reads a stored message back, verifying its checksum; throws StorageCorruptionError when it fails. */
  read(location: MessageLocation): StoredMessage {
    assert(!this.destroyed, 'read from a destroyed queue store');
    const payload = this.log.read(location, MESSAGE_RECORD_TYPES);
    const message = decodeMessage(payload);
    if (message === undefined) throw new StorageCorruptionError(this.directory, offsetOf(location), 'malformed message record');
    return message;
  }

  /** Removes every stored message, delivered or not (durable after the next sync). */
  purge(): void {
    assert(!this.destroyed, 'purge of a destroyed queue store');
    for (const state of this.segments.values()) state.deleted = true;
    this.liveCount = 0;
    this.log.deleteAllSegments();
    this.options.host.markDirty(this, 0);
  }

  /** Deletes the queue's files; the store is unusable afterwards. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.options.host.destroyQueue(this);
  }

  /** True once destroy() was called. */
  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /** True when changes wait for a flush or an fsync. */
  get dirty(): boolean {
    if (this.destroyed) return false;
    if (this.log.dirty) return true;
    for (const state of this.segments.values()) {
      if (state.pendingAcks.length > 0 || state.pendingDelivered.length > 0 || state.ackFile.dirty) return true;
    }
    return false;
  }

  /**
   * Writes buffered messages and marks; pushes the files that need an fsync, the ack files only when
   * `syncMarks` (their bytes are written either way, and stay queued until an fsync covers them).
   * Throws write errors.
   */
  flush(targets: SyncTarget[], syncMarks = true): void {
    if (this.destroyed) return;
    for (const state of this.segments.values()) {
      const marks = encodeMarks(state);
      if (marks !== undefined) {
        if (!state.ackFileExists) {
          state.ackFileExists = true;
          this.log.markDirectoryDirty();
        }
        state.ackFile.enqueue(marks);
      }
      if (!state.ackFile.dirty) continue;
      state.ackFile.write();
      if (syncMarks) targets.push(state.ackFile);
    }
    this.log.flush(targets);
  }

  /**
   * After a round's fsyncs: lets go of dead segments whose deletion is durable (their files go onto
   * `removals`, for the caller to unlink) and closes idle files.
   */
  afterSync(removals: SegmentFiles[]): void {
    if (this.destroyed) return;
    this.log.afterSync(removals);
    for (const state of this.segments.values()) if (!state.ackFile.dirty && !state.ackFile.busy) state.ackFile.close();
  }

  /** Closes every descriptor without flushing (the message store flushes first; crash tests do not). */
  close(): void {
    this.log.close();
    for (const state of this.segments.values()) if (!state.ackFile.busy) state.ackFile.close();
  }

  private stateOf(segment: number): SegmentState {
    let state = this.segments.get(segment);
    if (state === undefined) {
      const ackFile = new DurableFile(this.options.fs, join(this.directory, segmentFileName(segment, ACK_EXTENSION)), 0);
      state = { live: 0, acked: new RecordOffsets(RECORD_MIN_BYTES), pendingAcks: [], pendingDelivered: [], ackFile, ackFileExists: false, deleted: false };
      this.segments.set(segment, state);
    }
    return state;
  }

  /** Deletes a segment once no message in it is live, unless it is still being appended to. */
  private retireIfDead(segment: number): void {
    const state = this.segments.get(segment);
    if (segment === this.log.current || (state !== undefined && (state.deleted || state.live > 0))) return;
    if (!this.log.liveSegments().includes(segment)) return;
    this.stateOf(segment).deleted = true;
    this.log.deleteSegment(segment);
  }

  private forgetSegment(segment: number): void {
    const state = this.segments.get(segment);
    if (state === undefined) return;
    state.ackFile.close();
    this.segments.delete(segment);
  }

  /** Reads a segment's ack file at recovery; returns the delivered offsets and keeps the acknowledged ones. */
  private loadMarks(segment: number, recovery: QueueRecovery): Set<number> {
    const path = join(this.directory, segmentFileName(segment, ACK_EXTENSION));
    const state = this.stateOf(segment);
    const delivered = new Set<number>();
    const data = readFileIfExists(this.options.fs, path);
    if (data === undefined) return delivered;
    const scan = scanRecords(data, [RecordType.acks, RecordType.delivered]);
    for (const record of scan.records) {
      const into = record.type === RecordType.acks ? state.acked : delivered;
      for (let at = record.payloadStart; at + 4 <= record.payloadEnd; at += 4) into.add(data.readUInt32BE(at));
    }
    for (const region of scan.corrupt) {
      recovery.droppedRecords++;
      recovery.warnings.push(`${path}: ${region.end - region.start} corrupt bytes at offset ${region.start} skipped (their acknowledged messages may come back)`);
    }
    state.ackFileExists = true;
    state.ackFile.size = scan.validEnd;
    // Marks are appended to this file later, so a torn tail must go now or it would end up mid-file.
    if (scan.validEnd < data.length) state.ackFile.truncate(scan.validEnd);
    return delivered;
  }

  private recoverRecord(segment: number, offset: number, payload: Buffer, delivered: Set<number> | undefined, recovery: QueueRecovery): void {
    const state = this.stateOf(segment);
    if (state.acked.has(offset)) return;
    const message = decodeMessage(payload);
    if (message === undefined) {
      recovery.droppedRecords++;
      recovery.warnings.push(`${segmentFileName(segment)} offset ${offset}: malformed message record skipped`);
      return;
    }
    state.live++;
    this.liveCount++;
    const location = locationOf(segment, offset);
    const redelivered = delivered?.has(offset) ?? false;
    const { pagedOut } = recovery;
    // Past the window only the place is kept: the body is read back when the queue reaches it.
    if (pagedOut.locations.length === 0 && recovery.messages.length < (this.options.bodiesInMemory ?? Number.POSITIVE_INFINITY)) {
      recovery.messages.push({ location, message: (this.interner ?? new Interner()).message(message), redelivered });
      return;
    }
    if (redelivered) pagedOut.redelivered.add(pagedOut.locations.length);
    pagedOut.locations.push(location);
    pagedOut.sizes.push(message.body.length);
  }
}

/**
 * Shares equal exchange names, routing keys and property bytes between recovered messages, and copies
 * bodies out of the segment buffer (so a message kept for long does not pin a whole segment). A backlog
 * usually repeats a handful of these, and every message held at recovery costs memory.
 */
class Interner {
  private readonly strings = new Map<string, string>();
  private readonly properties = new Map<string, Buffer>();

  string(value: string): string {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    if (this.strings.size < INTERNED_MAX) this.strings.set(value, value);
    return value;
  }

  propertiesOf(bytes: Buffer): Buffer {
    if (bytes.length > 64) return Buffer.from(bytes);
    const key = bytes.toString('latin1');
    const known = this.properties.get(key);
    if (known !== undefined) return known;
    const copy = Buffer.from(bytes);
    if (this.properties.size < INTERNED_MAX) this.properties.set(key, copy);
    return copy;
  }

  /** A copy of a message decoded from a segment buffer, sharing what repeats. */
  message(decoded: StoredMessage): StoredMessage {
    return {
      exchange: this.string(decoded.exchange),
      routingKey: this.string(decoded.routingKey),
      rawProperties: this.propertiesOf(decoded.rawProperties),
      body: Buffer.from(decoded.body),
    };
  }
}

// Exchange names and routing keys are short and nearly always ASCII: measuring and copying their char
// codes in JavaScript beats two native calls per string on every persistent message.

/** The UTF-8 length of a string. */
function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text);
  return text.length;
}

/** Writes a string of `bytes` UTF-8 bytes at `at` (room already made); returns `bytes`. */
function writeUtf8(buffer: Buffer, text: string, bytes: number, at: number): number {
  if (bytes !== text.length) return buffer.write(text, at, bytes, 'utf8');
  for (let i = 0; i < bytes; i++) buffer[at + i] = text.charCodeAt(i);
  return bytes;
}

/** Turns a segment's pending marks into ack-file records, or undefined when there are none. */
function encodeMarks(state: SegmentState): Buffer | undefined {
  if (state.pendingAcks.length === 0 && state.pendingDelivered.length === 0) return undefined;
  const records: Buffer[] = [];
  // A delivered mark for a message acknowledged meanwhile is pointless: recovery will not return it.
  const delivered = state.pendingDelivered.filter((offset) => !state.acked.has(offset));
  if (delivered.length > 0) records.push(encodeRecord(RecordType.delivered, offsetsPayload(delivered)));
  if (state.pendingAcks.length > 0) records.push(encodeRecord(RecordType.acks, offsetsPayload(state.pendingAcks)));
  state.pendingAcks = [];
  state.pendingDelivered = [];
  return records.length === 0 ? undefined : Buffer.concat(records);
}

function offsetsPayload(offsets: readonly number[]): Buffer {
  const payload = Buffer.allocUnsafe(offsets.length * 4);
  for (let i = 0; i < offsets.length; i++) payload.writeUInt32BE(offsets[i] as number, i * 4);
  return payload;
}

/** Decodes a message record's payload (views into it); undefined when its inner lengths do not add up. */
function decodeMessage(payload: Buffer): StoredMessage | undefined {
  if (payload.length < MESSAGE_FIXED_BYTES) return undefined;
  let at = 0;
  const exchangeBytes = payload[at++] as number;
  if (at + exchangeBytes + 1 > payload.length) return undefined;
  const exchange = payload.toString('utf8', at, at + exchangeBytes);
  at += exchangeBytes;
  const routingKeyBytes = payload[at++] as number;
  if (at + routingKeyBytes + 4 > payload.length) return undefined;
  const routingKey = payload.toString('utf8', at, at + routingKeyBytes);
  at += routingKeyBytes;
  const propertiesBytes = payload.readUInt32BE(at);
  at += 4;
  if (at + propertiesBytes > payload.length) return undefined;
  const rawProperties = payload.subarray(at, at + propertiesBytes);
  const body = payload.subarray(at + propertiesBytes);
  return { exchange, routingKey, rawProperties, body };
}
