/**
 * The node as a whole: /api/overview, /api/whoami, /api/nodes, the health checks
 * (/api/health/checks/alarms, local-alarms, port-listener/{port}, virtual-hosts) and
 * /api/aliveness-test/{vhost}.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { getFromApi, publishFromApi } from '../../broker/api-operations.js';
import { HttpError } from '../errors.js';
import { administrator, canSeeVhost, managementUser } from './access.js';
import type { ManagementBackend } from './backend.js';
import { callBroker, existingVhost } from './broker-calls.js';
import { MessageRates } from './message-rates.js';
import { requestUser } from '../basic-auth.js';

/** The RabbitMQ release whose management API Warren follows (the one its compatibility tests run against). */
export const RABBITMQ_API_VERSION = '3.10.8';
/** Queue the aliveness test publishes to and gets from, as RabbitMQ's. */
const ALIVENESS_QUEUE = 'aliveness-test';

const EXCHANGE_TYPES = [
  ['direct', 'AMQP direct exchange, as per the AMQP specification'],
  ['fanout', 'AMQP fanout exchange, as per the AMQP specification'],
  ['headers', 'AMQP headers exchange, as per the AMQP specification'],
  ['topic', 'AMQP topic exchange, as per the AMQP specification'],
  ['x-delayed-message', 'Delayed message exchange'],
] as const;

/** Registers the node routes. */
export function registerNodeRoutes(app: FastifyInstance, backend: ManagementBackend): void {
  const { broker, nodeName } = backend;
  const rates = new MessageRates(broker).start();
  app.addHook('onClose', async () => rates.stop());

  app.get('/api/overview', async (request) => {
    const user = managementUser(request);
    const vhosts = [...broker.vhosts.values()].filter((vhost) => canSeeVhost(broker.users, user, vhost.name));
    const queues = vhosts.flatMap((vhost) => [...vhost.queues.values()]);
    const connections = backend.connections().filter((connection) => canSeeVhost(broker.users, user, connection.vhost));
    const ready = queues.reduce((sum, queue) => sum + queue.messageCount, 0);
    const unacked = queues.reduce((sum, queue) => sum + queue.unackedCount, 0);
    return {
      management_version: backend.version, product_name: 'Warren', product_version: backend.version,
      rabbitmq_version: RABBITMQ_API_VERSION, rates_mode: 'none', cluster_name: nodeName, node: nodeName,
      exchange_types: EXCHANGE_TYPES.map(([name, description]) => ({ name, description, enabled: true })),
      listeners: backend.listeners().map((listener) => ({
        node: nodeName, protocol: listener.protocol, ip_address: listener.ipAddress, port: listener.port, socket_opts: {},
      })),
      object_totals: {
        connections: connections.length,
        channels: connections.reduce((sum, connection) => sum + connection.channels.length, 0),
        exchanges: vhosts.reduce((sum, vhost) => sum + vhost.exchanges.size, 0),
        queues: queues.length,
        consumers: queues.reduce((sum, queue) => sum + queue.consumerCount, 0),
      },
      queue_totals: { messages: ready + unacked, messages_ready: ready, messages_unacknowledged: unacked },
      message_stats: rates.messageStats(),
    };
  });

  app.get('/api/whoami', async (request) => {
    const user = requestUser(request);
    return { name: user.username, tags: [...user.tags] };
  });

  const nodeView = (): Record<string, unknown> => {
    const memory = process.memoryUsage();
    return {
      name: nodeName, type: 'disc', running: true, os_pid: String(process.pid), uptime: Date.now() - backend.startedAt,
      mem_used: memory.rss, mem_alarm: broker.alarms.activeAlarms.includes('memory'),
      disk_free_alarm: broker.alarms.activeAlarms.includes('disk'), partitions: [], processors: 1,
      run_queue: 0, being_drained: false,
    };
  };
  app.get('/api/nodes', async (request) => {
    managementUser(request);
    return [nodeView()];
  });
  app.get<{ Params: { node: string } }>('/api/nodes/:node', async (request) => {
    managementUser(request);
    if (request.params.node !== nodeName) throw new HttpError(404, 'Object Not Found');
    return nodeView();
  });

  const alarmsCheck = async (request: Parameters<typeof managementUser>[0], reply: FastifyReply): Promise<unknown> => {
    managementUser(request);
    const alarms = broker.alarms.activeAlarms;
    if (alarms.length === 0) return { status: 'ok' };
    return reply.code(503).send({
      status: 'failed', reason: 'resource alarm(s) in effect in the cluster',
      alarms: alarms.map((resource) => ({ node: nodeName, resource })),
    });
  };
  app.get('/api/health/checks/alarms', alarmsCheck);
  app.get('/api/health/checks/local-alarms', alarmsCheck);

  app.get<{ Params: { port: string } }>('/api/health/checks/port-listener/:port', async (request, reply) => {
    managementUser(request);
    const port = Number(request.params.port);
    if (!/^\d+$/.test(request.params.port) || port > 65535) throw new HttpError(400, 'port must be a port number');
    const listening = backend.listeners().map((listener) => listener.port);
    if (listening.includes(port)) return { status: 'ok', port };
    return reply.code(503).send({ status: 'failed', reason: `No active listener on port ${port}`, missing: port, ports: listening });
  });

  app.get('/api/health/checks/virtual-hosts', async (request) => {
    managementUser(request);
    // Every vhost of a Warren node runs in the node's one process: a vhost that exists is up.
    return { status: 'ok' };
  });

  app.get<{ Params: { vhost: string } }>('/api/aliveness-test/:vhost', async (request, reply) => {
    const user = administrator(request);
    const vhost = existingVhost(broker, request.params.vhost);
    const body = Buffer.from(`aliveness ${Date.now()}`);
    const got = callBroker(() => {
      const { queue } = vhost.declareQueue(ALIVENESS_QUEUE, { durable: false, autoDelete: false, exclusiveOwner: null, arguments: {} }, false, 0);
      queue.purge();
      publishFromApi(vhost, { exchange: '', routingKey: ALIVENESS_QUEUE }, {}, body, user.username);
      return getFromApi(vhost, queue, 1, 'ack_requeue_false');
    });
    if (got[0]?.message.body.equals(body) !== true) return reply.code(503).send({ status: 'failed', reason: 'the test message did not come back' });
    return { status: 'ok' };
  });
}
