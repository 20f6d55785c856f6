/**
 * /api/bindings: list (including the default exchange's implicit binding to every queue, as RabbitMQ
 * lists it), bindings between an exchange and a queue (`/e/{source}/q/{queue}`) or another exchange
 * (`/e/{source}/e/{destination}`): list, create (POST, answering with the new binding's properties key
 * in Location), show and delete one by its properties key.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Exchange, type Binding } from '../../broker/exchange/exchange.js';
import type { Vhost } from '../../broker/vhost.js';
import { HttpError } from '../errors.js';
import { canSeeVhost, managementUser, resourceAccess } from './access.js';
import type { ManagementBackend } from './backend.js';
import { callBroker, existingVhost } from './broker-calls.js';
import { exchangeNameOf } from './routes-exchanges.js';
import { jsonToFieldTable } from './json-values.js';
import { listAnswer, type ListQuery } from './listing.js';
import { bindingPropertiesKey, bindingView, defaultBindingView } from './views.js';

type PairParams = { vhost: string; source: string; destination: string };
type OneParams = PairParams & { props: string };
type Kind = 'q' | 'e';

/** Every binding of a vhost: the implicit default-exchange ones first, then the declared ones. */
function vhostBindings(vhost: Vhost): Record<string, unknown>[] {
  const implicit = [...vhost.queues.values()].map(defaultBindingView);
  const declared = [...vhost.exchanges.values()].flatMap((exchange) => [...exchange.bindings.values()]).map((binding) => bindingView(vhost.name, binding));
  return [...implicit, ...declared];
}

/** Registers the binding routes. */
export function registerBindingRoutes(app: FastifyInstance, backend: ManagementBackend): void {
  const { broker } = backend;
  const visibleVhost = (request: FastifyRequest, name: string): Vhost => {
    const vhost = existingVhost(broker, name);
    if (!canSeeVhost(broker.users, managementUser(request), vhost.name)) throw new HttpError(404, 'Object Not Found');
    return vhost;
  };
  const between = (vhost: Vhost, params: PairParams, kind: Kind): Binding[] => {
    const source = vhost.exchanges.get(exchangeNameOf(params.source));
    const destination = kind === 'q' ? vhost.queues.get(params.destination) : vhost.exchanges.get(exchangeNameOf(params.destination));
    if (source === undefined || destination === undefined) throw new HttpError(404, 'Object Not Found');
    return [...source.bindings.values()].filter((binding) => binding.destination === destination);
  };

  app.get('/api/bindings', async (request) => {
    const user = managementUser(request);
    const vhosts = [...broker.vhosts.values()].filter((vhost) => canSeeVhost(broker.users, user, vhost.name));
    return listAnswer(vhosts.flatMap(vhostBindings), request.query as ListQuery);
  });
  app.get<{ Params: { vhost: string } }>('/api/bindings/:vhost', async (request) =>
    listAnswer(vhostBindings(visibleVhost(request, request.params.vhost)), request.query as ListQuery));

  for (const kind of ['q', 'e'] as const) {
    const path = `/api/bindings/:vhost/e/:source/${kind}/:destination`;
    app.get<{ Params: PairParams }>(path, async (request) => {
      const vhost = visibleVhost(request, request.params.vhost);
      return listAnswer(between(vhost, request.params, kind).map((binding) => bindingView(vhost.name, binding)), request.query as ListQuery);
    });

    app.post<{ Params: PairParams; Body: Record<string, unknown> | undefined }>(path, async (request, reply) => {
      const vhost = existingVhost(broker, request.params.vhost);
      const access = resourceAccess(broker.users, managementUser(request), vhost.name);
      const body = request.body ?? {};
      const routingKey = body['routing_key'] ?? '';
      if (typeof routingKey !== 'string') throw new HttpError(400, 'routing_key must be a string');
      const args = jsonToFieldTable(body['arguments'], 'arguments');
      const source = exchangeNameOf(request.params.source);
      const destination = kind === 'q' ? request.params.destination : exchangeNameOf(request.params.destination);
      callBroker(() => {
        access.checkBind(kind === 'q' ? 'queue' : 'exchange', destination, source);
        if (kind === 'q') vhost.bindQueue(destination, source, routingKey, args, 0);
        else vhost.bindExchange(destination, source, routingKey, args);
      });
      return reply.code(201).header('Location', encodeURIComponent(bindingPropertiesKey(routingKey, args))).send();
    });

    const onePath = `${path}/:props`;
    const findOne = (vhost: Vhost, params: OneParams): Binding => {
      const binding = between(vhost, params, kind).find((candidate) => bindingPropertiesKey(candidate.routingKey, candidate.arguments) === params.props);
      if (binding === undefined) throw new HttpError(404, 'Object Not Found');
      return binding;
    };
    app.get<{ Params: OneParams }>(onePath, async (request) => {
      const vhost = visibleVhost(request, request.params.vhost);
      return bindingView(vhost.name, findOne(vhost, request.params));
    });
    app.delete<{ Params: OneParams }>(onePath, async (request, reply) => {
      const vhost = existingVhost(broker, request.params.vhost);
      const access = resourceAccess(broker.users, managementUser(request), vhost.name);
      const binding = findOne(vhost, request.params);
      callBroker(() => access.checkBind(binding.destination instanceof Exchange ? 'exchange' : 'queue', binding.destination.name, binding.source.name));
      callBroker(() => binding.destination instanceof Exchange
        ? vhost.unbindExchange(binding.destination.name, binding.source.name, binding.routingKey, binding.arguments)
        : vhost.unbindQueue(binding.destination.name, binding.source.name, binding.routingKey, binding.arguments, binding.destination.options.exclusiveOwner ?? 0));
      return reply.code(204).send();
    });
  }
}
