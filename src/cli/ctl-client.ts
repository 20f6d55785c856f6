/**
 * The HTTP side of `warren ctl`: requests to Warren's management API (RabbitMQ's paths) and task
 * gateway with basic authentication, over the global fetch. Every failure becomes a CtlError whose
 * exit code says what kind of failure it was; the API's `reason` is the message.
 */
import { CTL_EXIT_CODES, CtlError, exitCodeForStatus } from './ctl-errors.js';

/** Where and as whom `warren ctl` talks to the API. */
export interface ClientSettings {
  url: string;
  user: string;
  password: string;
  timeoutMs: number;
}

/** One request's optional parts. */
export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
}

/** The list parameters of RabbitMQ's API that `warren ctl` passes on. */
export interface ListParameters {
  name?: string;
  useRegex?: boolean;
  sort?: string;
  sortReverse?: boolean;
  columns?: string;
}

/** Items per page when listing; RabbitMQ's (and Warren's) maximum page size. */
const LIST_PAGE_SIZE = 500;

/** A client of one Warren node's HTTP API. */
export class ManagementClient {
  private readonly base: URL;
  private readonly authorization: string;

  constructor(private readonly settings: ClientSettings) {
    this.base = parseBaseUrl(settings.url);
    this.authorization = `Basic ${Buffer.from(`${settings.user}:${settings.password}`).toString('base64')}`;
  }

  /** Sends one request; resolves to the answer's JSON, or undefined for an empty answer (201, 204). */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<unknown> {
    const url = new URL(`${this.base.pathname.replace(/\/$/, '')}${path}`, this.base);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { authorization: this.authorization, accept: 'application/json', ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, {
        method, headers, signal: AbortSignal.timeout(this.settings.timeoutMs),
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
    } catch (error) {
      throw new CtlError(CTL_EXIT_CODES.cannotConnect, `cannot connect to ${this.base.origin}: ${networkCause(error, this.settings.timeoutMs)}`);
    }
    const text = await response.text();
    if (!response.ok) throw new CtlError(exitCodeForStatus(response.status), `${reasonOf(text, response)} (${response.status} on ${method} ${url.pathname})`);
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new CtlError(CTL_EXIT_CODES.serverError, `the answer to ${method} ${url.pathname} is not JSON`);
    }
  }

  /**
   * Every item of a list endpoint, page by page (so the name filter applies and no answer grows
   * without bound), in the order the server sorted them.
   */
  async list(path: string, parameters: ListParameters = {}): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    for (let page = 1; ; page++) {
      const answer = await this.request('GET', path, {
        query: {
          page, page_size: LIST_PAGE_SIZE, name: parameters.name, use_regex: parameters.useRegex,
          sort: parameters.sort, sort_reverse: parameters.sortReverse, columns: parameters.columns,
        },
      });
      // An endpoint without pagination answers with the whole array.
      if (Array.isArray(answer)) return answer.filter(isRecord);
      if (!isRecord(answer) || !Array.isArray(answer['items'])) throw new CtlError(CTL_EXIT_CODES.serverError, `the answer to GET ${path} is not a list`);
      items.push(...answer['items'].filter(isRecord));
      const pageCount = answer['page_count'];
      if (typeof pageCount !== 'number' || page >= pageCount) return items;
    }
  }
}

/** True for a JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A path segment: a vhost or object name, percent-encoded ('/' becomes %2F, as RabbitMQ's API wants). */
export function segment(name: string): string {
  return encodeURIComponent(name);
}

/** The path segment of an exchange: the default exchange's empty name is `amq.default` in RabbitMQ's API. */
export function exchangeSegment(name: string): string {
  return segment(name === '' ? 'amq.default' : name);
}

function parseBaseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CtlError(CTL_EXIT_CODES.usage, `--url must be an http(s) URL, not '${text}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CtlError(CTL_EXIT_CODES.usage, `--url must be an http(s) URL of the management port, not '${text}'`);
  }
  return url;
}

/** The API's `reason` from an error answer, or the HTTP status text when the body has none. */
function reasonOf(text: string, response: Response): string {
  try {
    const body = JSON.parse(text) as unknown;
    if (isRecord(body) && typeof body['reason'] === 'string') return body['reason'];
  } catch {
    // Not JSON (a proxy's page, say): fall back to the status text.
  }
  return response.statusText === '' ? `HTTP ${response.status}` : response.statusText;
}

/** Why fetch could not reach the server, in a few words (ECONNREFUSED, ENOTFOUND, a timeout). */
function networkCause(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  const cause = error instanceof Error ? error.cause : undefined;
  if (isRecord(cause) && typeof cause['code'] === 'string') return cause['code'];
  if (cause instanceof Error) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
