/**
 * The JSON of browsed messages (GET .../messages): what every state shares (id, exchange, routing key,
 * properties with RabbitMQ's names, a payload preview encoded as /get's `auto` encoding does), and the
 * query parameters of a browse page.
 */
import type { UnackedMessageInfo } from '../../broker/connection-info.js';
import type { HeldMessage } from '../../broker/delay-scheduler.js';
import type { Message } from '../../broker/message.js';
import { HttpError } from '../errors.js';
import { propertiesToJson } from './json-values.js';

/** Most messages one browse page holds. */
export const BROWSE_LIMIT_MAX = 500;
const BROWSE_LIMIT_DEFAULT = 50;
/** Payload bytes previewed per message unless `truncate` says otherwise, and the most it may say. */
const PREVIEW_BYTES_DEFAULT = 1024;
const PREVIEW_BYTES_MAX = 65_536;

/** The browsable states of a message. */
export type BrowseState = 'ready' | 'unacked' | 'delayed';
const STATES = new Set<string>(['ready', 'unacked', 'delayed']);

/** A browse request's page and preview size. */
export interface BrowseQuery {
  state: BrowseState;
  offset: number;
  limit: number;
  previewBytes: number;
}

/** Parses ?state=&offset=&limit=&truncate= (bad values are a 400). */
export function browseQuery(query: Record<string, string | undefined>, defaultState: BrowseState): BrowseQuery {
  const state = query['state'] ?? defaultState;
  if (!STATES.has(state)) throw new HttpError(400, 'state must be ready, unacked or delayed');
  return {
    state: state as BrowseState,
    offset: integerParameter(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER),
    limit: integerParameter(query, 'limit', BROWSE_LIMIT_DEFAULT, 1, BROWSE_LIMIT_MAX),
    previewBytes: integerParameter(query, 'truncate', PREVIEW_BYTES_DEFAULT, 0, PREVIEW_BYTES_MAX),
  };
}

function integerParameter(query: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const text = query[name];
  if (text === undefined || text === '') return fallback;
  const value = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) throw new HttpError(400, `${name} must be an integer from ${min} to ${max}`);
  return value;
}

/** A message id from a URL: the decimal sequence number, or undefined for anything else (a 404). */
export function messageIdOf(text: string): number | undefined {
  if (!/^\d{1,16}$/.test(text)) return undefined;
  const id = Number(text);
  return Number.isSafeInteger(id) ? id : undefined;
}

/** What every browsed message shows. */
export function messageJson(id: number, state: BrowseState, message: Message, previewBytes: number): Record<string, unknown> {
  const preview = message.body.subarray(0, previewBytes);
  const text = previewText(preview, preview.length < message.body.length);
  return {
    id: String(id), state, exchange: message.exchange, routing_key: message.routingKey,
    properties: propertiesToJson(message.properties),
    payload: text ?? preview.toString('base64'), payload_encoding: text === undefined ? 'base64' : 'string',
    payload_bytes: message.body.length, payload_truncated: preview.length < message.body.length,
  };
}

/** A ready message: in memory, or read back from disk for this page (`paged_out`). */
export function readyJson(
  ready: { sequence: number; message: Message; redelivered: boolean; deliveryCount: number; pagedOut: boolean },
  previewBytes: number,
): Record<string, unknown> {
  return {
    ...messageJson(ready.sequence, 'ready', ready.message, previewBytes),
    redelivered: ready.redelivered, delivery_count: ready.deliveryCount, paged_out: ready.pagedOut,
  };
}

/** An unacknowledged message, with who holds it and for how long. */
export function unackedJson(held: UnackedMessageInfo, now: number, previewBytes: number): Record<string, unknown> {
  const { entry } = held;
  return {
    ...messageJson(entry.sequence, 'unacked', entry.message, previewBytes),
    redelivered: entry.redelivered, delivery_count: entry.deliveryCount,
    connection: held.connection, channel: held.channel,
    ...(held.consumerTag === undefined ? {} : { consumer_tag: held.consumerTag }),
    delivery_tag: held.deliveryTag, held_ms: Math.max(0, now - held.deliveredAt),
  };
}

/** A message a delayed exchange holds, with when it is due. */
export function delayedJson(held: HeldMessage, now: number, previewBytes: number): Record<string, unknown> {
  return {
    ...messageJson(held.sequence, 'delayed', held.message, previewBytes),
    redelivered: false, delivery_count: 0, due_at: held.dueAtMs, due_in_ms: Math.max(0, held.dueAtMs - now),
  };
}

/** A preview as text; a cut preview may end inside a character, which is dropped (up to 3 bytes). */
function previewText(preview: Buffer, cut: boolean): string | undefined {
  const text = utf8Text(preview);
  if (text !== undefined || !cut) return text;
  for (let drop = 1; drop <= 3 && drop <= preview.length; drop++) {
    const shorter = utf8Text(preview.subarray(0, preview.length - drop));
    if (shorter !== undefined) return shorter;
  }
  return undefined;
}

/** The body as text when it is valid UTF-8, else undefined (RabbitMQ's "auto" encoding). */
export function utf8Text(body: Buffer): string | undefined {
  const text = body.toString('utf8');
  return Buffer.byteLength(text) === body.length && !text.includes('\uFFFD') ? text : undefined;
}
