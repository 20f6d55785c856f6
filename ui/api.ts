/**
 * Calls to Warren's HTTP API with the stored basic credentials. Errors become ApiError with the
 * status and the API's `reason`; a 401 also forgets the credentials and announces it, so the app
 * shows the login form.
 */
import { forgetCredentials, storedAuthorization } from './auth.js';

/** Fired on window when the API refused the credentials. */
export const LOGGED_OUT_EVENT = 'warren:logged-out';

/** An error answer of the API. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A page of a paginated list, as the management API answers with `page`. */
export interface Page<T> {
  items: T[];
  page: number;
  page_count: number;
  page_size: number;
  filtered_count: number;
  total_count: number;
}

/** An /api path from segments, each encoded (`apiPath('queues', '/', 'q')` is `/api/queues/%2F/q`). */
export function apiPath(...segments: string[]): string {
  return `/api/${segments.map(encodeURIComponent).join('/')}`;
}

/** Options of one call. */
export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Another Authorization header value than the stored one (the login form's check). */
  authorization?: string;
  signal?: AbortSignal;
}

/** Calls the API; resolves with the parsed JSON answer (undefined for an empty one). */
export async function callApi<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest', ...options.headers };
  const authorization = options.authorization ?? storedAuthorization();
  if (authorization !== undefined) headers['authorization'] = authorization;
  const init: RequestInit = { method, headers, cache: 'no-store' };
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  if (options.signal !== undefined) init.signal = options.signal;
  const response = await fetch(path, init);
  const text = await response.text();
  const json: unknown = text === '' ? undefined : parseJson(text);
  if (!response.ok) {
    // The API also answers 401 to a user whose tags do not allow the call (as RabbitMQ's does): only
    // credentials that no longer log in at all end the session.
    if (response.status === 401 && options.authorization === undefined && path !== WHOAMI_PATH) await logOutUnlessLoggedIn();
    throw new ApiError(response.status, errorReason(json) ?? `${response.status} ${response.statusText}`);
  }
  return json as T;
}

const WHOAMI_PATH = '/api/whoami';

/** Forgets the stored credentials and announces it when /api/whoami no longer accepts them. */
async function logOutUnlessLoggedIn(): Promise<void> {
  const authorization = storedAuthorization();
  const whoami = authorization === undefined ? undefined : await fetch(WHOAMI_PATH, { headers: { authorization, 'x-requested-with': 'XMLHttpRequest' } });
  if (whoami !== undefined && whoami.status !== 401) return;
  forgetCredentials();
  window.dispatchEvent(new Event(LOGGED_OUT_EVENT));
}

/** GET shorthand. */
export function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return callApi<T>('GET', path, signal === undefined ? {} : { signal });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorReason(json: unknown): string | undefined {
  if (typeof json === 'object' && json !== null && 'reason' in json && typeof json.reason === 'string') return json.reason;
  return typeof json === 'string' && json !== '' ? json : undefined;
}

/** A readable message for anything thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (HTTP ${error.status})`;
  return error instanceof Error ? error.message : String(error);
}
