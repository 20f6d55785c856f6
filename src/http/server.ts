/**
 * The HTTP server on the management port: basic authentication on every /api route, JSON errors in
 * RabbitMQ's `{ error, reason }` shape, a body size limit, RabbitMQ's management API, the task gateway and
 * the web UI (at /, without authentication: the UI's code authenticates its own /api requests).
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { MetricsRegistry } from '../metrics/registry.js';
import type { Logger } from '../util/logger.js';
import { authenticateRequest, setRequestUser, WWW_AUTHENTICATE } from './basic-auth.js';
import { errorBody, HttpError } from './errors.js';
import { registerManagementApi, type ManagementBackend } from './management/index.js';
import type { HttpAuthenticator } from './http-authenticator.js';
import { registerMetricsRoute } from './metrics-route.js';
import type { TaskGatewayBackend } from './task-backend.js';
import { registerTaskGateway } from './task-gateway.js';
import { registerUiRoutes } from './ui-routes.js';

/** What the HTTP server needs. */
export interface HttpServerOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Address to listen on. */
  bind: string;
  /** The node behind RabbitMQ's management API (/api/overview, /api/queues, ...); undefined: not served. */
  management?: ManagementBackend;
  /**
   * Who every /api request authenticates as: the broker's users (its Users registry), or in the
   * standalone keeper the AMQP broker's users, checked by logging in.
   */
  users: HttpAuthenticator;
  /** The task layer behind /api/tasks; undefined when the node runs no task keeper (503). */
  tasks: TaskGatewayBackend | undefined;
  /** Largest request body accepted, in bytes. */
  bodySizeMaxBytes: number;
  /** Served as Prometheus text on GET /metrics (without authentication); no /metrics route when undefined. */
  metrics?: MetricsRegistry | undefined;
  logger: Logger;
}

/** A running HTTP server. */
export interface HttpServer {
  /** The port it listens on (useful when started with port 0). */
  readonly port: number;
  /** Stops listening and closes idle connections; resolves once in-flight requests are answered. */
  close(): Promise<void>;
}

/** Starts the HTTP server and resolves once it listens. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const app = buildHttpApp(options);
  await app.listen({ port: options.port, host: options.bind });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return { port, close: () => app.close() };
}

/** The fastify app with every route, not yet listening (tests can call `inject` on it). */
export function buildHttpApp(options: Omit<HttpServerOptions, 'port' | 'bind'>): FastifyInstance {
  const { users, logger } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodySizeMaxBytes,
    // Idle keep-alive sockets would otherwise hold close() open until their clients hang up.
    forceCloseConnections: 'idle',
    // Room for the longest task name (200 characters) in a path segment; longer segments get 414.
    routerOptions: { maxParamLength: 256 },
    // Errors found while routing (a bad URL, an overlong segment) get the same JSON body as the rest.
    frameworkErrors: (error, _request, reply) => sendErrorBody(reply as FastifyReply, error.statusCode ?? 400, error.message),
    // Checks are strict: a wrong type or an unknown option is a 400, never silently coerced or dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
  });
  app.addHook('onRequest', async (request) => {
    if (!isApiPath(request.url)) return;
    setRequestUser(request, await authenticateRequest(users, request.headers.authorization, request.socket.remoteAddress ?? '', logger));
  });
  // Only JSON bodies are understood; a text/plain one is a 415 rather than a string that fails validation.
  app.removeContentTypeParser('text/plain');
  // Clients (curl, HTTP libraries) often send Content-Type: application/json with an empty DELETE or
  // PUT body; RabbitMQ accepts that as no body, so the JSON parser does too (fastify's would answer 400).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined);
    else parseJson(request, body.toString(), done);
  });
  app.setErrorHandler((error: FastifyError, request, reply) => sendError(error, request, reply, logger));
  app.setNotFoundHandler((request, reply) => {
    sendErrorBody(reply, 404, `no ${request.method} route for ${request.url.split('?')[0] ?? ''}`);
  });
  registerTaskGateway(app, users, options.tasks);
  if (options.management !== undefined) registerManagementApi(app, options.management);
  if (options.metrics !== undefined) registerMetricsRoute(app, options.metrics);
  if (options.management !== undefined) registerUiRoutes(app);
  return app;
}

function isApiPath(url: string): boolean {
  return url === '/api' || url.startsWith('/api/') || url.startsWith('/api?');
}

/** Answers an error: HttpError as it says, fastify's own errors (bad JSON, too large...) by their status, the rest 500. */
function sendError(error: FastifyError | HttpError, request: FastifyRequest, reply: FastifyReply, logger: Logger): void {
  if (error instanceof HttpError) {
    // The web UI marks its requests (X-Requested-With, as browser code conventionally does) and gets no
    // challenge, so a wrong password shows its login form rather than the browser's own dialog.
    if (error.statusCode === 401 && request.headers['x-requested-with'] === undefined) void reply.header('WWW-Authenticate', WWW_AUTHENTICATE);
    sendErrorBody(reply, error.statusCode, error.message);
    return;
  }
  const statusCode = error.validation !== undefined ? 400 : (error.statusCode ?? 500);
  if (statusCode >= 500) {
    logger.error({ method: request.method, url: request.url, error: error.message }, 'HTTP request failed');
    sendErrorBody(reply, 500, 'internal error; see the node\'s log');
    return;
  }
  sendErrorBody(reply, statusCode, error.message);
}

function sendErrorBody(reply: FastifyReply, statusCode: number, reason: string): void {
  void reply.code(statusCode).type('application/json; charset=utf-8').send(errorBody(statusCode, reason));
}
