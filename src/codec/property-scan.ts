/**
 * Finds where basic properties lie in their wire encoding (flags + property list) without decoding them.
 * A broker keeps properties as received and reads only a few of them, while decoding a headers table
 * builds an object, a key string and a value per entry. The scan checks the bytes exactly as
 * decodeBasicProperties does, throwing the same AmqpCodecError for the same malformed input.
 */
import { Buffer } from 'node:buffer';
import { skipFieldValue, type FieldValue } from './field-table.js';
import { Reader } from './reader.js';

/** Class id of basic, for the errors a malformed property list raises. */
const BASIC_CLASS_ID = 60;

/** A top-level header entry the scan was asked to find; offsets into the scanned bytes. */
export interface HeaderEntrySpan {
  /** Index of the entry's key in the watched keys. */
  keyIndex: number;
  /** Where the entry (its key's length octet) starts. */
  start: number;
  /** Where its value (the type tag) starts. */
  valueAt: number;
  /** Where the entry ends. */
  end: number;
}

/** Where the properties a broker reads lie in raw property bytes: offsets, -1 when absent. */
export interface BasicPropertiesScan {
  flags: number;
  /** The headers table's length field. */
  headersAt: number;
  /** The priority octet. */
  priorityAt: number;
  /** The length octets of these shortstr properties. */
  replyToAt: number;
  expirationAt: number;
  userIdAt: number;
  /** Top-level header entries with a watched key, in table order; undefined when there are none. */
  watched: HeaderEntrySpan[] | undefined;
}

/**
 * Scans raw property bytes, noting the top-level header entries whose key is one of `watchedKeys`
 * (given as their UTF-8 bytes). Throws AmqpCodecError(502) when the bytes are malformed.
 */
export function scanBasicProperties(raw: Buffer, watchedKeys: readonly Buffer[] = []): BasicPropertiesScan {
  const r = new Reader(raw, 0, raw.length, BASIC_CLASS_ID, 0);
  const flags = r.readUint16();
  // Bit 0 set means another flag word follows; basic has no properties past the first word, so skip them.
  for (let more = flags; (more & 1) !== 0; ) more = r.readUint16();
  const scan: BasicPropertiesScan = { flags, headersAt: -1, priorityAt: -1, replyToAt: -1, expirationAt: -1, userIdAt: -1, watched: undefined };
  if ((flags & 0x8000) !== 0) r.skipShortString();
  if ((flags & 0x4000) !== 0) r.skipShortString();
  if ((flags & 0x2000) !== 0) {
    scan.headersAt = r.offset;
    scan.watched = scanHeaders(r, watchedKeys);
  }
  if ((flags & 0x1000) !== 0) r.skip(1);
  if ((flags & 0x0800) !== 0) {
    scan.priorityAt = r.offset;
    r.skip(1);
  }
  if ((flags & 0x0400) !== 0) r.skipShortString();
  scan.replyToAt = (flags & 0x0200) !== 0 ? shortStringStart(r) : -1;
  scan.expirationAt = (flags & 0x0100) !== 0 ? shortStringStart(r) : -1;
  if ((flags & 0x0080) !== 0) r.skipShortString();
  if ((flags & 0x0040) !== 0) r.skip(8);
  if ((flags & 0x0020) !== 0) r.skipShortString();
  scan.userIdAt = (flags & 0x0010) !== 0 ? shortStringStart(r) : -1;
  if ((flags & 0x0008) !== 0) r.skipShortString();
  if ((flags & 0x0004) !== 0) r.skipShortString();
  return scan;
}

/** The shortstr whose length octet is at `at` (in bytes a scan has checked). */
export function shortStringAt(raw: Buffer, at: number): string {
  const start = at + 1;
  return raw.toString('utf8', start, start + (raw[at] as number));
}

/** Reads the field value of a scanned header entry. */
export function headerValueAt(raw: Buffer, entry: HeaderEntrySpan): FieldValue {
  return new Reader(raw, entry.valueAt, entry.end, BASIC_CLASS_ID, 0).readFieldValue();
}

/**
 * The property bytes without some top-level header entries (a copy; the table's length is adjusted),
 * with the scan of the result: every other byte stays as it was received.
 */
export function withoutHeaderEntries(
  raw: Buffer,
  scan: BasicPropertiesScan,
  entries: readonly HeaderEntrySpan[],
): { raw: Buffer; scan: BasicPropertiesScan } {
  let removed = 0;
  for (const entry of entries) removed += entry.end - entry.start;
  // From the shared pool, as the content assembler copies received properties and bodies.
  const out = Buffer.allocUnsafe(raw.length - removed);
  let from = 0;
  let to = 0;
  for (const entry of entries) {
    to += raw.copy(out, to, from, entry.start);
    from = entry.end;
  }
  raw.copy(out, to, from);
  out.writeUInt32BE(raw.readUInt32BE(scan.headersAt) - removed, scan.headersAt);
  // Everything after the headers table moved back by what was removed; the removed entries are no longer watched.
  const rest = scan.watched?.filter((entry) => !entries.includes(entry)) ?? [];
  return {
    raw: out,
    scan: {
      flags: scan.flags,
      headersAt: scan.headersAt,
      priorityAt: movedBack(scan.priorityAt, removed),
      replyToAt: movedBack(scan.replyToAt, removed),
      expirationAt: movedBack(scan.expirationAt, removed),
      userIdAt: movedBack(scan.userIdAt, removed),
      watched: rest.length === 0 ? undefined : rest.map((entry) => shiftedEntry(entry, entries)),
    },
  };
}

function movedBack(at: number, removed: number): number {
  return at < 0 ? at : at - removed;
}

/** A kept entry's offsets once the removed entries before it are gone. */
function shiftedEntry(entry: HeaderEntrySpan, removed: readonly HeaderEntrySpan[]): HeaderEntrySpan {
  let shift = 0;
  for (const gone of removed) if (gone.start < entry.start) shift += gone.end - gone.start;
  return { keyIndex: entry.keyIndex, start: entry.start - shift, valueAt: entry.valueAt - shift, end: entry.end - shift };
}

function shortStringStart(r: Reader): number {
  const at = r.offset;
  r.skipShortString();
  return at;
}

/** Walks the headers table as decodeFieldTable does, noting the entries with watched keys. */
function scanHeaders(r: Reader, watchedKeys: readonly Buffer[]): HeaderEntrySpan[] | undefined {
  const t = r.sub(r.readUint32());
  let watched: HeaderEntrySpan[] | undefined;
  while (t.offset < t.end) {
    const start = t.offset;
    const keyAt = t.skipShortString();
    const valueAt = t.offset;
    skipFieldValue(t, 0);
    const keyIndex = watchedKeys.length === 0 ? -1 : indexOfKey(t.buffer, keyAt, valueAt, watchedKeys);
    if (keyIndex >= 0) (watched ??= []).push({ keyIndex, start, valueAt, end: t.offset });
  }
  return watched;
}

function indexOfKey(buffer: Buffer, keyAt: number, keyEnd: number, keys: readonly Buffer[]): number {
  const length = keyEnd - keyAt;
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k] as Buffer;
    if (key.length !== length) continue;
    let i = 0;
    while (i < length && buffer[keyAt + i] === key[i]) i++;
    if (i === length) return k;
  }
  return -1;
}
