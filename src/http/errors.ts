/**
 * HTTP errors as data: a status and a RabbitMQ-management-style JSON body `{ "error", "reason" }`.
 * Route code throws HttpError; the server's error handler turns it (and fastify's own errors) into the
 * answer, so every error a client sees has the same shape.
 */

/** The JSON body of every error answer. */
export interface ErrorBody {
  /** A short snake_case code, stable for clients to match on. */
  error: string;
  /** A sentence for people. */
  reason: string;
}

/** The error code sent with each status. */
const ERROR_CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'not_authorized',
  403: 'access_refused',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  500: 'internal_error',
  503: 'unavailable',
};

/** A refused request: thrown by route code, answered by the server's error handler. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** The body of an error answer with the given status. */
export function errorBody(statusCode: number, reason: string): ErrorBody {
  return { error: ERROR_CODES[statusCode] ?? (statusCode >= 500 ? 'internal_error' : 'bad_request'), reason };
}
