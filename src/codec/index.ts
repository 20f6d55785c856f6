// The codec's public surface: bytes <-> values for AMQP 0-9-1, with no I/O.
export { AmqpCodecError } from './errors.js';
export { Decimal, EMPTY_TABLE, FIELD_NESTING_MAX, type FieldTable, type FieldValue } from './field-table.js';
export { Reader } from './reader.js';
export {
  headerValueAt,
  scanBasicProperties,
  shortStringAt,
  withoutHeaderEntries,
  type BasicPropertiesScan,
  type HeaderEntrySpan,
} from './property-scan.js';
export { FrameWriter } from './writer.js';
export { FrameParser, type FrameHandler } from './frame-parser.js';
export {
  decodeBasicProperties,
  decodeContentHeader,
  encodeBasicProperties,
  encodeBodyFrames,
  encodeContentHeaderFrame,
  type BasicProperties,
  type ContentHeader,
} from './content.js';
export * from './generated/constants.js';
export * from './generated/methods.js';
export { decodeMethod } from './generated/decode-method.js';
export { encodeMethodFrame } from './generated/encode-method.js';
export { writeBasicProperties } from './generated/basic-properties.js';
