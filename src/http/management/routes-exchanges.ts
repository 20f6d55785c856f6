/**
 * /api/exchanges: list, show, declare (PUT), delete, publish, and an exchange's bindings. As in
 * RabbitMQ, the default exchange is named `amq.default` in URLs.
 */
import type { FastifyInstance } from 'fastify';
import { publishFromApi } from '../../broker/api-operations.js';
import { Exchange } from '../../broker/exchange/exchange.js';
import { HttpError } from '../errors.js';
import { canSeeVhost, managementUser, resourceAccess } from './access.js';
import type { ManagementBackend } from './backend.js';
import { callBroker, existingVhost, syncedToDisk } from './broker-calls.js';
import { jsonToFieldTable, jsonToProperties } from './json-values.js';
import { listAnswer, type ListQuery } from './listing.js';
import { bindingView, exchangeView } from './views.js';

type Params = { vhost: string; name: string };

/** The exchange name a URL segment stands for. */
export function exchangeNameOf(segment: string): string {
  return segment === 'amq.default' ? '' : segment;
}

/** Registers the exchange routes. */
export function registerExchangeRoutes(app: FastifyInstance, backend: ManagementBackend): void {
  const { broker } = backend;
  const visibleVhosts = (request: Parameters<typeof managementUser>[0], only?: string): string[] => {
    const user = managementUser(request);
    if (only !== undefined) existingVhost(broker, only);
    const names = only === undefined ? [...broker.vhosts.keys()] : [only];
    return names.filter((name) => canSeeVhost(broker.users, user, name));
  };
  const listExchanges = (vhostNames: string[]): Record<string, unknown>[] =>
    vhostNames.flatMap((name) => [...existingVhost(broker, name).exchanges.values()].map((exchange) => exchangeView(name, exchange)));

  app.get('/api/exchanges', async (request) => listAnswer(listExchanges(visibleVhosts(request)), request.query as ListQuery));
  app.get<{ Params: { vhost: string } }>('/api/exchanges/:vhost', async (request) =>
    listAnswer(listExchanges(visibleVhosts(request, request.params.vhost)), request.query as ListQuery));

  app.get<{ Params: Params }>('/api/exchanges/:vhost/:name', async (request) => {
    const [vhostName] = visibleVhosts(request, request.params.vhost);
    if (vhostName === undefined) throw new HttpError(404, 'Object Not Found');
    const exchange = existingVhost(broker, vhostName).exchanges.get(exchangeNameOf(request.params.name));
    if (exchange === undefined) throw new HttpError(404, 'Object Not Found');
    return exchangeView(vhostName, exchange);
  });

  app.put<{ Params: Params; Body: Record<string, unknown> | undefined }>('/api/exchanges/:vhost/:name', async (request, reply) => {
    const user = managementUser(request);
    const vhost = existingVhost(broker, request.params.vhost);
    const access = resourceAccess(broker.users, user, vhost.name);
    const body = request.body ?? {};
    if (typeof body['type'] !== 'string') throw new HttpError(400, 'type is required (direct, fanout, topic, headers, x-delayed-message)');
    const name = request.params.name;
    const existed = vhost.exchanges.has(name);
    const args = jsonToFieldTable(body['arguments'], 'arguments');
    callBroker(() => {
      access.checkExchangeDeclare(name, args);
      vhost.declareExchange(name, body['type'] as string, {
        durable: booleanField(body, 'durable', true), autoDelete: booleanField(body, 'auto_delete', false),
        internal: booleanField(body, 'internal', false), arguments: args,
      }, false);
    });
    return reply.code(existed ? 204 : 201).send();
  });

  app.delete<{ Params: Params; Querystring: { 'if-unused'?: string } }>('/api/exchanges/:vhost/:name', async (request, reply) => {
    const user = managementUser(request);
    const vhost = existingVhost(broker, request.params.vhost);
    const access = resourceAccess(broker.users, user, vhost.name);
    const name = exchangeNameOf(request.params.name);
    if (!vhost.exchanges.has(name)) throw new HttpError(404, 'Object Not Found');
    callBroker(() => {
      access.check('configure', 'exchange', name);
      vhost.deleteExchange(name, request.query['if-unused'] === 'true');
    });
    return reply.code(204).send();
  });

  app.post<{ Params: Params; Body: Record<string, unknown> | undefined }>('/api/exchanges/:vhost/:name/publish', async (request) => {
    const user = managementUser(request);
    const vhost = existingVhost(broker, request.params.vhost);
    const access = resourceAccess(broker.users, user, vhost.name);
    const body = request.body ?? {};
    const routingKey = body['routing_key'];
    const payload = body['payload'];
    const encoding = body['payload_encoding'] ?? 'string';
    if (typeof routingKey !== 'string') throw new HttpError(400, 'routing_key must be a string');
    if (typeof payload !== 'string') throw new HttpError(400, 'payload must be a string');
    if (encoding !== 'string' && encoding !== 'base64') throw new HttpError(400, "payload_encoding must be 'string' or 'base64'");
    const bytes = Buffer.from(payload, encoding === 'base64' ? 'base64' : 'utf8');
    const properties = jsonToProperties(body['properties']);
    const exchange = exchangeNameOf(request.params.name);
    const outcome = callBroker(() => {
      access.checkPublish(exchange);
      return publishFromApi(vhost, { exchange, routingKey }, properties, bytes, user.username);
    });
    if (outcome.persisted) await syncedToDisk(vhost);
    return { routed: outcome.routed };
  });

  for (const side of ['source', 'destination'] as const) {
    app.get<{ Params: Params }>(`/api/exchanges/:vhost/:name/bindings/${side}`, async (request) => {
      const [vhostName] = visibleVhosts(request, request.params.vhost);
      if (vhostName === undefined) throw new HttpError(404, 'Object Not Found');
      const vhost = existingVhost(broker, vhostName);
      const name = exchangeNameOf(request.params.name);
      if (!vhost.exchanges.has(name)) throw new HttpError(404, 'Object Not Found');
      const bindings = [...vhost.exchanges.values()].flatMap((exchange) => [...exchange.bindings.values()])
        .filter((binding) => (side === 'source' ? binding.source.name === name : binding.destination.name === name && binding.destination instanceof Exchange));
      return listAnswer(bindings.map((binding) => bindingView(vhostName, binding)), request.query as ListQuery);
    });
  }
}

/** A boolean field of a request body, `fallback` when absent; "true" and "false" as text too, as RabbitMQ takes them. */
export function booleanField(body: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = body[name];
  if (value === undefined) return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  if (typeof value !== 'boolean') throw new HttpError(400, `${name} must be true or false`);
  return value;
}
