/**
 * /api/connections (DELETE closes one with 320 CONNECTION_FORCED and the X-Reason header's text),
 * /api/channels and /api/consumers. Administrators and monitoring users see everyone's; other
 * management users see their own connections only, as in RabbitMQ.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ConnectionInfo } from '../../broker/connection-info.js';
import { HttpError } from '../errors.js';
import { canSeeVhost, managementUser, seesAll } from './access.js';
import type { ManagementBackend } from './backend.js';
import { existingVhost } from './broker-calls.js';
import { listAnswer, type ListQuery } from './listing.js';
import { channelName, channelView, connectionView, consumerViews } from './views.js';

/** The reason a DELETE gives when it sends no X-Reason header (RabbitMQ's text). */
const DEFAULT_CLOSE_REASON = 'Closed via management plugin';

/** Registers the connection, channel and consumer routes. */
export function registerConnectionRoutes(app: FastifyInstance, backend: ManagementBackend): void {
  const { nodeName, broker } = backend;
  const visibleConnections = (request: FastifyRequest, vhost?: string): ConnectionInfo[] => {
    const user = managementUser(request);
    if (vhost !== undefined) existingVhost(broker, vhost);
    return backend.connections().filter((connection) =>
      (seesAll(user) || connection.user === user.username) && (vhost === undefined || connection.vhost === vhost));
  };
  const namedConnection = (request: FastifyRequest<{ Params: { name: string } }>): ConnectionInfo => {
    const connection = visibleConnections(request).find((candidate) => candidate.name === request.params.name);
    if (connection === undefined) throw new HttpError(404, 'Object Not Found');
    return connection;
  };
  const channelsOf = (connections: ConnectionInfo[]): Record<string, unknown>[] =>
    connections.flatMap((connection) => connection.channels.map((channel) => channelView(nodeName, connection, channel)));

  app.get('/api/connections', async (request) =>
    listAnswer(visibleConnections(request).map((connection) => connectionView(nodeName, connection)), request.query as ListQuery));
  app.get<{ Params: { vhost: string } }>('/api/vhosts/:vhost/connections', async (request) =>
    listAnswer(visibleConnections(request, request.params.vhost).map((connection) => connectionView(nodeName, connection)), request.query as ListQuery));
  app.get<{ Params: { name: string } }>('/api/connections/:name', async (request) => connectionView(nodeName, namedConnection(request)));
  app.delete<{ Params: { name: string } }>('/api/connections/:name', async (request, reply) => {
    const connection = namedConnection(request);
    const header = request.headers['x-reason'];
    const reason = typeof header === 'string' && header !== '' ? header : DEFAULT_CLOSE_REASON;
    if (!backend.closeConnection(connection.name, reason)) throw new HttpError(404, 'Object Not Found');
    return reply.code(204).send();
  });
  app.get<{ Params: { name: string } }>('/api/connections/:name/channels', async (request) =>
    listAnswer(channelsOf([namedConnection(request)]), request.query as ListQuery));

  app.get('/api/channels', async (request) => listAnswer(channelsOf(visibleConnections(request)), request.query as ListQuery));
  app.get<{ Params: { vhost: string } }>('/api/vhosts/:vhost/channels', async (request) =>
    listAnswer(channelsOf(visibleConnections(request, request.params.vhost)), request.query as ListQuery));
  app.get<{ Params: { name: string } }>('/api/channels/:name', async (request) => {
    for (const connection of visibleConnections(request)) {
      const channel = connection.channels.find((candidate) => channelName(connection, candidate) === request.params.name);
      if (channel !== undefined) return channelView(nodeName, connection, channel);
    }
    throw new HttpError(404, 'Object Not Found');
  });

  app.get('/api/consumers', async (request) => {
    const user = managementUser(request);
    const connections = backend.connections().filter((connection) => canSeeVhost(broker.users, user, connection.vhost));
    return listAnswer(connections.flatMap((connection) => consumerViews(nodeName, connection)), request.query as ListQuery);
  });
  app.get<{ Params: { vhost: string } }>('/api/consumers/:vhost', async (request) => {
    const user = managementUser(request);
    existingVhost(broker, request.params.vhost);
    if (!canSeeVhost(broker.users, user, request.params.vhost)) throw new HttpError(404, 'Object Not Found');
    const connections = backend.connections().filter((connection) => connection.vhost === request.params.vhost);
    return listAnswer(connections.flatMap((connection) => consumerViews(nodeName, connection)), request.query as ListQuery);
  });
}
