/**
 * /api/queues: list, show, declare (PUT), delete, purge (DELETE .../contents), get messages
 * (POST .../get, which takes them off the queue and settles them as `ackmode` says), and a queue's
 * bindings. The HTTP API acts as the owner of an exclusive queue, as RabbitMQ's does.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PermissionKind } from '../../broker/access-control.js';
import { getFromApi, type ApiGetAckMode } from '../../broker/api-operations.js';
import type { Queue } from '../../broker/queue.js';
import { HttpError } from '../errors.js';
import { canSeeVhost, managementUser, resourceAccess } from './access.js';
import type { ManagementBackend } from './backend.js';
import { callBroker, existingVhost } from './broker-calls.js';
import { booleanField } from './routes-exchanges.js';
import { jsonToFieldTable, propertiesToJson } from './json-values.js';
import { listAnswer, listAnswerOf, type ListQuery } from './listing.js';
import { bindingView, defaultBindingView, queueView } from './views.js';

type Params = { vhost: string; name: string };

/** Most messages one /get takes. */
const GET_COUNT_MAX = 1000;
const ACK_MODES = new Set<string>(['ack_requeue_true', 'ack_requeue_false', 'reject_requeue_true', 'reject_requeue_false']);

/** Registers the queue routes. */
export function registerQueueRoutes(app: FastifyInstance, backend: ManagementBackend): void {
  const { broker, nodeName } = backend;
  /** The queues a request may list (all visible vhosts, or `only`), as queues: views are built per page. */
  const listQueues = (request: FastifyRequest, only?: string): Queue[] => {
    const user = managementUser(request);
    if (only !== undefined) existingVhost(broker, only);
    const names = only === undefined ? [...broker.vhosts.keys()] : [only];
    return names.filter((name) => canSeeVhost(broker.users, user, name))
      .flatMap((name) => [...existingVhost(broker, name).queues.values()]);
  };
  const answer = (queues: Queue[], query: ListQuery): unknown =>
    listAnswerOf(queues, (queue) => queue.name, (queue) => queueView(nodeName, queue), query);
  /** The queue a request names, visible to its user. */
  const visibleQueue = (request: FastifyRequest<{ Params: Params }>): Queue => {
    const user = managementUser(request);
    const vhost = existingVhost(broker, request.params.vhost);
    const queue = canSeeVhost(broker.users, user, vhost.name) ? vhost.queues.get(request.params.name) : undefined;
    if (queue === undefined) throw new HttpError(404, 'Object Not Found');
    return queue;
  };
  /** The queue a request changes: its user needs `kind` permission on it. */
  const changedQueue = (request: FastifyRequest<{ Params: Params }>, kind: PermissionKind): Queue => {
    const access = resourceAccess(broker.users, managementUser(request), request.params.vhost);
    const queue = visibleQueue(request);
    callBroker(() => access.check(kind, 'queue', queue.name));
    return queue;
  };

  app.get('/api/queues', async (request) => answer(listQueues(request), request.query as ListQuery));
  app.get<{ Params: { vhost: string } }>('/api/queues/:vhost', async (request) =>
    answer(listQueues(request, request.params.vhost), request.query as ListQuery));
  app.get<{ Params: Params }>('/api/queues/:vhost/:name', async (request) => queueView(nodeName, visibleQueue(request)));

  app.put<{ Params: Params; Body: Record<string, unknown> | undefined }>('/api/queues/:vhost/:name', async (request, reply) => {
    const user = managementUser(request);
    const vhost = existingVhost(broker, request.params.vhost);
    const access = resourceAccess(broker.users, user, vhost.name);
    const body = request.body ?? {};
    const name = request.params.name;
    const existed = vhost.queues.has(name);
    const args = jsonToFieldTable(body['arguments'], 'arguments');
    callBroker(() => {
      access.checkQueueDeclare(name, args);
      vhost.declareQueue(name, {
        durable: booleanField(body, 'durable', true), autoDelete: booleanField(body, 'auto_delete', false), exclusiveOwner: null, arguments: args,
      }, false, 0);
    });
    return reply.code(existed ? 204 : 201).send();
  });

  app.delete<{ Params: Params; Querystring: Record<string, string | undefined> }>('/api/queues/:vhost/:name', async (request, reply) => {
    const queue = changedQueue(request, 'configure');
    const flags = { ifEmpty: request.query['if-empty'] === 'true', ifUnused: request.query['if-unused'] === 'true' };
    callBroker(() => existingVhost(broker, queue.vhost).deleteQueue(queue.name, flags, queue.options.exclusiveOwner ?? 0));
    return reply.code(204).send();
  });

  app.delete<{ Params: Params }>('/api/queues/:vhost/:name/contents', async (request, reply) => {
    const queue = changedQueue(request, 'read');
    callBroker(() => existingVhost(broker, queue.vhost).purgeQueue(queue.name, queue.options.exclusiveOwner ?? 0));
    return reply.code(204).send();
  });

  app.post<{ Params: Params; Body: Record<string, unknown> | undefined }>('/api/queues/:vhost/:name/get', async (request) => {
    const queue = changedQueue(request, 'read');
    const body = request.body ?? {};
    // rabbitmqadmin sends numbers as text; RabbitMQ takes both.
    const count = numberOrText(body['count'] ?? 1);
    const ackMode = body['ackmode'] ?? 'ack_requeue_true';
    const encoding = body['encoding'] ?? 'auto';
    const truncate = body['truncate'] === undefined ? undefined : numberOrText(body['truncate']);
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > GET_COUNT_MAX) {
      throw new HttpError(400, `count must be an integer from 1 to ${GET_COUNT_MAX}`);
    }
    if (typeof ackMode !== 'string' || !ACK_MODES.has(ackMode)) throw new HttpError(400, `ackmode must be one of ${[...ACK_MODES].join(', ')}`);
    if (encoding !== 'auto' && encoding !== 'base64') throw new HttpError(400, "encoding must be 'auto' or 'base64'");
    if (truncate !== undefined && (typeof truncate !== 'number' || !Number.isInteger(truncate) || truncate < 0)) {
      throw new HttpError(400, 'truncate must be a non-negative integer');
    }
    return getFromApi(existingVhost(broker, queue.vhost), queue, count, ackMode as ApiGetAckMode).map((got) => {
      const body = truncate === undefined ? got.message.body : got.message.body.subarray(0, truncate);
      const text = encoding === 'auto' ? utf8Text(body) : undefined;
      return {
        payload_bytes: got.message.body.length, redelivered: got.redelivered, exchange: got.message.exchange,
        routing_key: got.message.routingKey, message_count: got.messageCount, properties: propertiesToJson(got.message.properties),
        payload: text ?? body.toString('base64'), payload_encoding: text === undefined ? 'base64' : 'string',
      };
    });
  });

  app.get<{ Params: Params }>('/api/queues/:vhost/:name/bindings', async (request) => {
    const queue = visibleQueue(request);
    const vhost = existingVhost(broker, queue.vhost);
    const bindings = [...vhost.exchanges.values()].flatMap((exchange) => [...exchange.bindings.values()])
      .filter((binding) => binding.destination === queue).map((binding) => bindingView(vhost.name, binding));
    return listAnswer([defaultBindingView(queue), ...bindings], request.query as ListQuery);
  });
}

/** A number given as a JSON number or as decimal text; anything else is returned as is (and refused by the caller). */
function numberOrText(value: unknown): unknown {
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
}

/** The body as text when it is valid UTF-8, else undefined (RabbitMQ's "auto" encoding). */
function utf8Text(body: Buffer): string | undefined {
  const text = body.toString('utf8');
  return Buffer.byteLength(text) === body.length && !text.includes('\uFFFD') ? text : undefined;
}
