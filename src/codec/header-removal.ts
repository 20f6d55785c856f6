/**
 * Removes one entry from the headers table of encoded basic properties, leaving every other byte as the
 * publisher sent it. Decoding and re-encoding the table would lose the publisher's field types (a
 * 64-bit integer that fits in 32 bits would go out as a 32-bit one), and RabbitMQ keeps them.
 */
import { Buffer } from 'node:buffer';
import { decodeFieldValue } from './field-table.js';
import { Reader } from './reader.js';

const CONTENT_TYPE_FLAG = 0x8000;
const CONTENT_ENCODING_FLAG = 0x4000;
const HEADERS_FLAG = 0x2000;

/**
 * `raw` (well-formed basic properties: the caller decoded them already) without the header `key`;
 * `raw` itself when it has no such header.
 */
export function withoutHeader(raw: Buffer, key: string): Buffer {
  const flags = raw.readUInt16BE(0);
  if ((flags & HEADERS_FLAG) === 0) return raw;
  let lengthAt = 2;
  if ((flags & CONTENT_TYPE_FLAG) !== 0) lengthAt += 1 + (raw[lengthAt] ?? 0);
  if ((flags & CONTENT_ENCODING_FLAG) !== 0) lengthAt += 1 + (raw[lengthAt] ?? 0);
  const start = lengthAt + 4;
  const end = start + raw.readUInt32BE(lengthAt);
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let position = start;
  while (position < end) {
    const entryStart = position;
    const keyEnd = position + 1 + (raw[position] ?? 0);
    const entryKey = raw.toString('utf8', position + 1, keyEnd);
    const value = new Reader(raw, keyEnd, end);
    decodeFieldValue(value, 1);
    position = value.offset;
    if (entryKey === key) continue;
    kept.push(raw.subarray(entryStart, position));
    keptBytes += position - entryStart;
  }
  if (keptBytes === end - start) return raw;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(keptBytes);
  return Buffer.concat([raw.subarray(0, lengthAt), length, ...kept, raw.subarray(end)]);
}
