/**
 * The keeper's request protocol (docs/task-protocol.md, "Keeper requests"): JSON requests on
 * KEEPER_REQUESTS_QUEUE and the JSON replies sent to their reply_to, plus the checks the keeper runs on
 * requests and on the state events it records (peer input: refused with a reason, never asserted).
 */
import { TASK_PROTOCOL_VERSION, isValidTaskName, type TaskEventKind, type TaskState } from './protocol.js';
import type { CancelledRun } from './task-cancellation.js';
import type { TaskQuery, TaskRecord } from './store/result-store.js';
import { TASK_LIST_LIMIT_MAX } from './store/task-rows.js';
import { KeeperRequestError, TaskValidationError, type KeeperErrorCode } from './task-errors.js';
import { parseCallbackUrl } from './webhooks/webhook-endpoint.js';
import { SCHEDULING_OPS, parseSchedulingRequest, type SchedulingReplyFields, type SchedulingRequest } from './keeper-scheduling.js';

/** A request to a keeper. */
export type KeeperRequest =
  | { op: 'get'; id: string }
  | { op: 'list'; query: TaskQuery }
  | { op: 'retry'; id: string }
  | { op: 'webhook-secret'; url: string }
  | { op: 'cancel'; id: string }
  | { op: 'cancelled'; names: string[] }
  | SchedulingRequest;

/** A keeper's reply: `record` for get (absent: unknown task) and retry, `records` for list. */
export type KeeperReply =
  | ({ ok: true; record?: TaskRecord; records?: TaskRecord[]; secret?: string; cancelled?: CancelledRun[] } & SchedulingReplyFields)
  | { ok: false; error: { code: KeeperErrorCode; message: string } };

const TASK_STATES: readonly TaskState[] = ['queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled'];
const EVENT_KINDS: readonly TaskEventKind[] = ['queued', 'started', 'retrying', 'succeeded', 'failed', 'dead', 'cancelled'];

/** The request in a parsed JSON body; throws KeeperRequestError('bad_request') on anything else. */
export function parseKeeperRequest(value: unknown): KeeperRequest {
  if (!isObject(value)) throw badRequest('a keeper request must be a JSON object');
  switch (value['op']) {
    case 'get':
    case 'retry':
    case 'cancel':
      return { op: value['op'], id: taskId(value['id']) };
    case 'list':
      return { op: 'list', query: parseTaskQuery(value['query'] ?? {}) };
    case 'webhook-secret':
      return { op: 'webhook-secret', url: callbackUrl(value['url']) };
    case 'cancelled':
      return { op: 'cancelled', names: parseTaskNames(value['names']) };
    default:
      if (SCHEDULING_OPS.includes(value['op'] as string)) return parseSchedulingRequest(value);
      throw badRequest(`unknown op ${JSON.stringify(value['op'])}: use get, list, retry, cancel, cancelled, webhook-secret or ${SCHEDULING_OPS.join(', ')}`);
  }
}

/** A checked TaskQuery (limit 1 to TASK_LIST_LIMIT_MAX). */
export function parseTaskQuery(value: unknown): TaskQuery {
  if (!isObject(value)) throw badRequest('query must be a JSON object');
  const query: TaskQuery = {};
  const { name, state, limit, offset } = value;
  if (name !== undefined) {
    if (typeof name !== 'string') throw badRequest('query.name must be a string');
    query.name = name;
  }
  if (state !== undefined) {
    if (!TASK_STATES.includes(state as TaskState)) throw badRequest(`query.state must be one of ${TASK_STATES.join(', ')}`);
    query.state = state as TaskState;
  }
  if (limit !== undefined) query.limit = integerField('query.limit', limit, 1, TASK_LIST_LIMIT_MAX);
  if (offset !== undefined) query.offset = integerField('query.offset', offset, 0, Number.MAX_SAFE_INTEGER);
  return query;
}

/** The error in an event that breaks the protocol, or undefined for a well-formed TaskEvent. */
export function taskEventProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not a JSON object';
  if (value['protocol'] !== TASK_PROTOCOL_VERSION) return `protocol must be ${TASK_PROTOCOL_VERSION}`;
  if (!EVENT_KINDS.includes(value['kind'] as TaskEventKind)) return `unknown kind ${JSON.stringify(value['kind'])}`;
  if (typeof value['id'] !== 'string' || value['id'] === '') return 'id must be a non-empty string';
  if (typeof value['name'] !== 'string' || value['name'] === '') return 'name must be a non-empty string';
  for (const field of ['run', 'attempt'] as const) {
    const number = value[field];
    if (typeof number !== 'number' || !Number.isInteger(number) || number < 1) return `${field} must be an integer >= 1`;
  }
  if (typeof value['at'] !== 'number' || !Number.isFinite(value['at'])) return 'at must be a number (ms since the epoch)';
  const error = value['error'];
  if (error !== undefined && !(isObject(error) && typeof error['name'] === 'string' && typeof error['message'] === 'string')) {
    return 'error must be an object with string name and message';
  }
  if (value['kind'] === 'queued' && value['options'] !== undefined && !isObject(value['options'])) return 'the options of a queued event must be an object';
  const startedAt = value['startedAt'];
  if (startedAt !== undefined && (typeof startedAt !== 'number' || !Number.isFinite(startedAt))) return 'startedAt must be a number (ms since the epoch)';
  return undefined;
}

/** The reply for a request that failed with `error`. */
export function errorReply(error: unknown): KeeperReply {
  if (error instanceof KeeperRequestError && error.code !== 'unavailable') {
    return { ok: false, error: { code: error.code, message: error.message } };
  }
  return { ok: false, error: { code: 'internal', message: error instanceof Error ? error.message : String(error) } };
}

/** Most task names one 'cancelled' request may ask about. */
export const CANCELLED_REQUEST_NAMES_MAX = 1000;

function parseTaskNames(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > CANCELLED_REQUEST_NAMES_MAX || !value.every((name) => typeof name === 'string' && isValidTaskName(name))) {
    throw badRequest(`names must be an array of 1 to ${CANCELLED_REQUEST_NAMES_MAX} task names`);
  }
  return value as string[];
}

function taskId(value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.length > 255) throw badRequest('id must be a string of 1-255 characters');
  return value;
}

function callbackUrl(value: unknown): string {
  try {
    return parseCallbackUrl(value);
  } catch (error) {
    throw error instanceof TaskValidationError ? badRequest(error.message) : error;
  }
}

function integerField(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw badRequest(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function badRequest(message: string): KeeperRequestError {
  return new KeeperRequestError('bad_request', message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
