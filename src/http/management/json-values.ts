/**
 * AMQP values <-> the JSON RabbitMQ's management API uses: field tables (queue arguments, headers) and
 * basic properties with snake_case names.
 */
import { Decimal, type BasicProperties, type FieldTable, type FieldValue } from '../../broker/api-operations.js';
import { HttpError } from '../errors.js';

/** A field value as JSON: long integers as numbers, byte arrays as text, timestamps as seconds. */
export function fieldValueToJson(value: FieldValue): unknown {
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value instanceof Date) return Math.floor(value.getTime() / 1000);
  if (value instanceof Decimal) return value.value / 10 ** value.scale;
  if (Array.isArray(value)) return value.map(fieldValueToJson);
  return fieldTableToJson(value);
}

/** A field table as a JSON object. */
export function fieldTableToJson(table: FieldTable): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(table)) json[key] = fieldValueToJson(value);
  return json;
}

/** A JSON value as a field value; `where` names it in the 400 a value JSON cannot carry gets. */
export function jsonToFieldValue(value: unknown, where: string): FieldValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new HttpError(400, `${where}: numbers must be finite`);
    return value;
  }
  if (Array.isArray(value)) return value.map((item, index) => jsonToFieldValue(item, `${where}[${index}]`));
  if (typeof value === 'object') return jsonToFieldTable(value, where);
  throw new HttpError(400, `${where}: unsupported value`);
}

/** A JSON object as a field table (undefined and null give an empty table). */
export function jsonToFieldTable(value: unknown, where: string): FieldTable {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, `${where} must be a JSON object`);
  const table: FieldTable = Object.create(null) as FieldTable;
  for (const [key, item] of Object.entries(value)) table[key] = jsonToFieldValue(item, `${where}.${key}`);
  return table;
}

/** Snake_case JSON names of the basic properties, as RabbitMQ's API uses them. */
const PROPERTY_NAMES = {
  content_type: 'contentType', content_encoding: 'contentEncoding', delivery_mode: 'deliveryMode',
  priority: 'priority', correlation_id: 'correlationId', reply_to: 'replyTo', expiration: 'expiration',
  message_id: 'messageId', timestamp: 'timestamp', type: 'type', user_id: 'userId', app_id: 'appId',
  cluster_id: 'clusterId',
} as const satisfies Record<string, Exclude<keyof BasicProperties, 'headers'>>;

const NUMERIC_PROPERTIES = new Set(['delivery_mode', 'priority', 'timestamp']);

/** Basic properties as RabbitMQ's API shows them (absent ones left out). */
export function propertiesToJson(properties: BasicProperties): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const [jsonName, name] of Object.entries(PROPERTY_NAMES)) {
    const value = properties[name];
    if (value !== undefined) json[jsonName] = value;
  }
  if (properties.headers !== undefined) json['headers'] = fieldTableToJson(properties.headers);
  return json;
}

/** Basic properties from the JSON of a publish request; unknown or mistyped ones are a 400. */
export function jsonToProperties(value: unknown): BasicProperties {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'properties must be a JSON object');
  const properties: Record<string, unknown> = {};
  for (const [jsonName, item] of Object.entries(value)) {
    if (jsonName === 'headers') {
      properties['headers'] = jsonToFieldTable(item, 'properties.headers');
      continue;
    }
    const name = (PROPERTY_NAMES as Record<string, string>)[jsonName];
    if (name === undefined) throw new HttpError(400, `unknown property '${jsonName}'`);
    const numeric = NUMERIC_PROPERTIES.has(jsonName);
    const valid = numeric ? typeof item === 'number' && Number.isInteger(item) && item >= 0 : typeof item === 'string';
    if (!valid) throw new HttpError(400, `properties.${jsonName} must be ${numeric ? 'a non-negative integer' : 'a string'}`);
    properties[name] = item;
  }
  return properties as BasicProperties;
}
