/**
 * /api/definitions[/{vhost}]: export (GET) and import (POST) of vhosts, users (with their
 * rabbit_password_hashing_sha256 hashes), permissions, exchanges, queues and bindings, in RabbitMQ's
 * definitions format, so a file exported from RabbitMQ imports here and the other way round.
 * Warren has no runtime parameters (federation, shovels) or topic permissions: a file that carries
 * any is refused whole (400), before anything is changed, rather than imported without them.
 */
import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/broker.js';
import type { Vhost } from '../../broker/vhost.js';
import { HttpError } from '../errors.js';
import { administrator } from './access.js';
import type { ManagementBackend } from './backend.js';
import { callBroker, existingVhost } from './broker-calls.js';
import { jsonToFieldTable } from './json-values.js';
import { exchangeNameOf } from './routes-exchanges.js';
import { tagsOf } from './routes-access.js';
import { RABBITMQ_API_VERSION } from './routes-node.js';
import { policyView } from './routes-policies.js';
import { PASSWORD_HASHING, bindingView, exchangeView, permissionView, queueView } from './views.js';

type Json = Record<string, unknown>;

/** Global parameters RabbitMQ exports that name the cluster itself; an import ignores them. */
const CLUSTER_IDENTITY_PARAMETERS = new Set(['cluster_name', 'internal_cluster_id']);

/** The objects of one vhost: durable and transient exchanges (not the predeclared ones), non-exclusive queues, bindings. */
function vhostObjects(vhost: Vhost, node: string): { exchanges: Json[]; queues: Json[]; bindings: Json[] } {
  const exchanges = [...vhost.exchanges.values()].filter((exchange) => exchange.name !== '' && !exchange.name.startsWith('amq.'));
  const queues = [...vhost.queues.values()].filter((queue) => queue.options.exclusiveOwner === null);
  const queueNames = new Set(queues.map((queue) => queue.name));
  const bindings = [...vhost.exchanges.values()].flatMap((exchange) => [...exchange.bindings.values()])
    .map((binding) => bindingView(vhost.name, binding))
    .filter((binding) => binding['destination_type'] === 'exchange' || queueNames.has(String(binding['destination'])));
  return {
    exchanges: exchanges.map((exchange) => exchangeView(vhost.name, exchange)),
    queues: queues.map((queue) => pick(queueView(node, queue), ['name', 'vhost', 'durable', 'auto_delete', 'arguments'])),
    bindings: bindings.map((binding) => pick(binding, ['source', 'vhost', 'destination', 'destination_type', 'routing_key', 'arguments'])),
  };
}

function pick(view: Json, keys: readonly string[]): Json {
  return Object.fromEntries(keys.map((key) => [key, view[key]]));
}

/** Every definition of the node. */
export function exportDefinitions(backend: ManagementBackend): Json {
  const { broker, nodeName } = backend;
  const vhosts = [...broker.vhosts.values()];
  const objects = vhosts.map((vhost) => vhostObjects(vhost, nodeName));
  const users = broker.users.list();
  return {
    rabbit_version: RABBITMQ_API_VERSION, rabbitmq_version: RABBITMQ_API_VERSION, product_name: 'Warren', product_version: backend.version,
    users: users.map((user) => ({ name: user.username, password_hash: user.passwordHash, hashing_algorithm: PASSWORD_HASHING, tags: [...user.tags], limits: {} })),
    vhosts: vhosts.map((vhost) => ({ name: vhost.name, limits: [], metadata: { description: '', tags: [] } })),
    permissions: users.flatMap((user) => [...user.permissions].map(([vhost, permission]) => permissionView(user.username, vhost, permission))),
    topic_permissions: [], parameters: [], global_parameters: [],
    policies: vhosts.flatMap((vhost) => vhost.policies.list().map(policyView)),
    queues: objects.flatMap((object) => object.queues),
    exchanges: objects.flatMap((object) => object.exchanges),
    bindings: objects.flatMap((object) => object.bindings),
  };
}

/** The array under `key` of an import body (absent: empty); anything else is a 400. */
function section(body: Json, key: string): Json[] {
  const value = body[key];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'object' && item !== null && !Array.isArray(item))) {
    throw new HttpError(400, `${key} must be an array of objects`);
  }
  return value as Json[];
}

function text(item: Json, key: string, where: string): string {
  const value = item[key];
  if (typeof value !== 'string') throw new HttpError(400, `${where}: ${key} must be a string`);
  return value;
}

function flag(item: Json, key: string, fallback: boolean): boolean {
  const value = item[key];
  return typeof value === 'boolean' ? value : fallback;
}

/**
 * Imports definitions: vhosts, users, permissions, then exchanges, queues and bindings (into `onlyVhost`
 * when given, whatever their vhost field says). What exists already is redeclared, as RabbitMQ does.
 */
export function importDefinitions(broker: Broker, body: Json, onlyVhost?: string): void {
  for (const key of ['parameters', 'global_parameters', 'topic_permissions']) {
    // A cluster's own identity (its name, its internal id) is not a setting to carry over.
    const items = section(body, key).filter((item) => !(key === 'global_parameters' && CLUSTER_IDENTITY_PARAMETERS.has(String(item['name']))));
    if (items.length > 0) throw new HttpError(400, `Warren does not support ${key} yet; remove them from the file to import the rest`);
  }
  const vhostOf = (item: Json, where: string): Vhost => existingVhost(broker, onlyVhost ?? text(item, 'vhost', where));
  callBroker(() => {
    if (onlyVhost === undefined) {
      for (const item of section(body, 'vhosts')) broker.addVhost(text(item, 'name', 'vhosts'));
      for (const item of section(body, 'users')) importUser(broker, item);
      for (const item of section(body, 'permissions')) {
        const where = 'permissions';
        broker.setPermission(text(item, 'user', where), text(item, 'vhost', where), {
          configure: text(item, 'configure', where), write: text(item, 'write', where), read: text(item, 'read', where),
        });
      }
    }
    for (const item of section(body, 'policies')) {
      broker.putPolicy({
        vhost: onlyVhost ?? text(item, 'vhost', 'policies'), name: text(item, 'name', 'policies'), pattern: item['pattern'],
        applyTo: item['apply-to'], priority: item['priority'], definition: item['definition'],
      });
    }
    for (const item of section(body, 'exchanges')) {
      vhostOf(item, 'exchanges').declareExchange(text(item, 'name', 'exchanges'), text(item, 'type', 'exchanges'), {
        durable: flag(item, 'durable', true), autoDelete: flag(item, 'auto_delete', false), internal: flag(item, 'internal', false),
        arguments: jsonToFieldTable(item['arguments'], 'exchanges.arguments'),
      }, false);
    }
    for (const item of section(body, 'queues')) {
      vhostOf(item, 'queues').declareQueue(text(item, 'name', 'queues'), {
        durable: flag(item, 'durable', true), autoDelete: flag(item, 'auto_delete', false), exclusiveOwner: null,
        arguments: jsonToFieldTable(item['arguments'], 'queues.arguments'),
      }, false, 0);
    }
    for (const item of section(body, 'bindings')) {
      const vhost = vhostOf(item, 'bindings');
      const source = exchangeNameOf(text(item, 'source', 'bindings'));
      const destination = text(item, 'destination', 'bindings');
      const routingKey = text(item, 'routing_key', 'bindings');
      const args = jsonToFieldTable(item['arguments'], 'bindings.arguments');
      if (item['destination_type'] === 'exchange') vhost.bindExchange(destination, source, routingKey, args);
      else vhost.bindQueue(destination, source, routingKey, args, 0);
    }
  });
}

function importUser(broker: Broker, item: Json): void {
  const name = text(item, 'name', 'users');
  const hashing = item['hashing_algorithm'];
  if (hashing !== undefined && hashing !== PASSWORD_HASHING) {
    throw new HttpError(400, `users: ${name} has hashing_algorithm ${String(hashing)}; Warren reads ${PASSWORD_HASHING} only`);
  }
  const passwordHash = item['password_hash'];
  const password = item['password'];
  broker.putUser({
    username: name, tags: tagsOf(item['tags']),
    ...(typeof passwordHash === 'string' ? { passwordHash } : typeof password === 'string' ? { password } : { passwordHash: '' }),
  });
}

/** Registers /api/definitions and /api/definitions/{vhost}. */
export function registerDefinitionRoutes(app: FastifyInstance, backend: ManagementBackend): void {
  app.get('/api/definitions', async (request) => {
    administrator(request);
    return exportDefinitions(backend);
  });
  app.post<{ Body: Json | undefined }>('/api/definitions', async (request, reply) => {
    administrator(request);
    importDefinitions(backend.broker, request.body ?? {});
    return reply.code(204).send();
  });
  app.get<{ Params: { vhost: string } }>('/api/definitions/:vhost', async (request) => {
    administrator(request);
    const vhost = existingVhost(backend.broker, request.params.vhost);
    const { exchanges, queues, bindings } = vhostObjects(vhost, backend.nodeName);
    const policies = vhost.policies.list().map(policyView);
    return { rabbit_version: RABBITMQ_API_VERSION, rabbitmq_version: RABBITMQ_API_VERSION, parameters: [], policies, queues, exchanges, bindings };
  });
  app.post<{ Params: { vhost: string }; Body: Json | undefined }>('/api/definitions/:vhost', async (request, reply) => {
    administrator(request);
    existingVhost(backend.broker, request.params.vhost);
    importDefinitions(backend.broker, request.body ?? {}, request.params.vhost);
    return reply.code(204).send();
  });
}
