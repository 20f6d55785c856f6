/**
 * The record format shared by every storage file, and the scanner that recovers records from a file
 * that may be torn or corrupt:
 *
 *   [u32 BE payload length][u32 BE CRC-32C of type + payload][u8 record type][payload]
 *
 * A record is checked twice: its CRC is computed when it is written and verified (with its length)
 * whenever it is read back, at recovery or on a later read.
 */
import { crc32c } from './crc32c.js';

/** Bytes before a record's payload: length, CRC, type. */
export const RECORD_HEADER_BYTES = 9;
/** The largest payload a record may claim; anything larger is treated as corruption, not allocated. */
export const RECORD_PAYLOAD_MAX_BYTES = 1024 * 1024 * 1024;

/** Record types. Each file kind accepts only its own, so a stray record of another kind is noticed. Type 0 never occurs, which makes zero-filled tails invalid. */
export const RecordType = {
  /** A persistent message in a queue segment (NNNNNNNN.seg). */
  message: 1,
  /** A transient message written out of memory (NNNNNNNN.seg): readable, but never recovered. */
  transientMessage: 6,
  /** A batch of acknowledged message offsets (NNNNNNNN.ack). */
  acks: 2,
  /** A batch of delivered message offsets (NNNNNNNN.ack). */
  delivered: 3,
  /** A segment was created (MANIFEST). */
  segmentCreated: 4,
  /** A segment was deleted (MANIFEST). */
  segmentDeleted: 5,
  /** A JSON definition change (definitions.log). */
  definition: 16,
} as const;

/** Writes a record header for the payload already at [at + 9, at + 9 + payloadBytes) and checksums it. */
export function sealRecord(buffer: Buffer, at: number, type: number, payloadBytes: number): void {
  buffer.writeUInt32BE(payloadBytes, at);
  buffer[at + 8] = type;
  buffer.writeUInt32BE(crc32c(buffer, at + 8, at + RECORD_HEADER_BYTES + payloadBytes), at + 4);
}

/** Encodes one record into a new buffer. */
export function encodeRecord(type: number, payload: Uint8Array): Buffer {
  const buffer = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  buffer.set(payload, RECORD_HEADER_BYTES);
  sealRecord(buffer, 0, type, payload.length);
  return buffer;
}

/** A record found by the scanner: its type and where its payload lies in the scanned buffer. */
export interface ScannedRecord {
  offset: number;
  type: number;
  payloadStart: number;
  payloadEnd: number;
}

/** A run of bytes that held no valid record. */
export interface CorruptRegion {
  start: number;
  end: number;
}

/** What a scan found. */
export interface ScanResult {
  records: ScannedRecord[];
  /** Corrupt runs between or after valid records, in file order. */
  corrupt: CorruptRegion[];
  /** End of the last valid record: where a torn tail would be cut. */
  validEnd: number;
  /**
   * True when every byte after validEnd is zero (and there is at least one): the file ends in zeros,
   * which is the room a segment log fills ahead of its appends (or a crash left after a size change),
   * not a torn record. The run is also the last entry of `corrupt`, for callers that make no difference.
   */
  zeroTail: boolean;
}

/** Returns the payload length of a valid record at `at`, or -1 when there is none there. */
export function validRecordAt(data: Buffer, at: number, types: readonly number[]): number {
  if (data.length - at < RECORD_HEADER_BYTES) return -1;
  const length = data.readUInt32BE(at);
  if (length > RECORD_PAYLOAD_MAX_BYTES || at + RECORD_HEADER_BYTES + length > data.length) return -1;
  if (!types.includes(data[at + 8] as number)) return -1;
  if (crc32c(data, at + 8, at + RECORD_HEADER_BYTES + length) !== data.readUInt32BE(at + 4)) return -1;
  return length;
}

/**
 * Finds the next valid record after a bad one at `at`. The length field is tried first (a record
 * whose payload was damaged but whose length is intact); failing that, every later offset is tried,
 * because a damaged length would otherwise cost the rest of the file. Cheap checks (length fits, type
 * known) reject almost every offset before a CRC is computed, and a random match of type and CRC has a
 * chance below 2^-32, so a resynchronised record is trustworthy.
 */
function nextValidRecord(data: Buffer, at: number, types: readonly number[], zerosFrom: number): number {
  if (data.length - at >= RECORD_HEADER_BYTES) {
    const skip = at + RECORD_HEADER_BYTES + data.readUInt32BE(at);
    if (skip < data.length && validRecordAt(data, skip, types) >= 0) return skip;
  }
  // A record's type byte is never zero, so none starts where its type byte would fall in the zeros at the end.
  for (let candidate = at + 1; candidate + RECORD_HEADER_BYTES <= data.length && candidate + 8 < zerosFrom; candidate++) {
    if (validRecordAt(data, candidate, types) >= 0) return candidate;
  }
  return -1;
}

/** Scans a whole file's bytes for valid records, stepping over corrupt runs. Never throws on bad data. */
export function scanRecords(data: Buffer, types: readonly number[]): ScanResult {
  const records: ScannedRecord[] = [];
  const corrupt: CorruptRegion[] = [];
  const zerosFrom = zeroRunStart(data);
  let at = 0;
  while (at < data.length) {
    const length = validRecordAt(data, at, types);
    if (length >= 0) {
      const payloadStart = at + RECORD_HEADER_BYTES;
      records.push({ offset: at, type: data[at + 8] as number, payloadStart, payloadEnd: payloadStart + length });
      at = payloadStart + length;
      continue;
    }
    if (at >= zerosFrom) {
      corrupt.push({ start: at, end: data.length });
      return { records, corrupt, validEnd: at, zeroTail: true };
    }
    const next = nextValidRecord(data, at, types, zerosFrom);
    if (next < 0) {
      corrupt.push({ start: at, end: data.length });
      return { records, corrupt, validEnd: at, zeroTail: false };
    }
    corrupt.push({ start: at, end: next });
    at = next;
  }
  return { records, corrupt, validEnd: at, zeroTail: false };
}

/** Where the run of zero bytes that ends `data` starts (data.length when its last byte is not zero). */
function zeroRunStart(data: Buffer): number {
  let start = data.length;
  while (start > 0 && data[start - 1] === 0) start--;
  return start;
}
