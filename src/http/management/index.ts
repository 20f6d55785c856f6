/**
 * RabbitMQ's management HTTP API (the paths, verbs and JSON field names its clients speak:
 * rabbitmqadmin, monitoring tools, Terraform providers), served next to the task gateway.
 */
import type { FastifyInstance } from 'fastify';
import type { ManagementBackend } from './backend.js';
import { registerDefinitionRoutes } from './definitions.js';
import { registerAccessRoutes } from './routes-access.js';
import { registerBindingRoutes } from './routes-bindings.js';
import { registerConnectionRoutes } from './routes-connections.js';
import { registerExchangeRoutes } from './routes-exchanges.js';
import { registerMessageRoutes } from './routes-messages.js';
import { registerNodeRoutes } from './routes-node.js';
import { registerPolicyRoutes } from './routes-policies.js';
import { registerQueueRoutes } from './routes-queues.js';

export type { ListenerInfo, ManagementBackend } from './backend.js';
export { brokerMetricsCollector } from './broker-metrics.js';

/** Registers every management route on `app`. */
export function registerManagementApi(app: FastifyInstance, backend: ManagementBackend): void {
  registerNodeRoutes(app, backend);
  registerAccessRoutes(app, backend);
  registerExchangeRoutes(app, backend);
  registerQueueRoutes(app, backend);
  registerMessageRoutes(app, backend);
  registerBindingRoutes(app, backend);
  registerConnectionRoutes(app, backend);
  registerPolicyRoutes(app, backend);
  registerDefinitionRoutes(app, backend);
}
