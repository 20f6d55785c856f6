/**
 * GET /metrics: Prometheus text from the node's metrics registry. Like RabbitMQ's Prometheus endpoint
 * (port 15692) it takes no authentication, so any scraper can read it: it carries counts, durations and
 * task names, never payloads, results or credentials. docs/metrics.md says how to restrict it.
 */
import type { FastifyInstance } from 'fastify';
import { PROMETHEUS_TEXT_CONTENT_TYPE } from '../metrics/exposition.js';
import type { MetricsRegistry } from '../metrics/registry.js';

/** Registers GET /metrics (HEAD too) answering the registry's families as Prometheus text. */
export function registerMetricsRoute(app: FastifyInstance, registry: MetricsRegistry): void {
  app.get('/metrics', async (_request, reply) => {
    const text = await registry.render();
    return reply.type(PROMETHEUS_TEXT_CONTENT_TYPE).send(text);
  });
}
