/**
 * The broker's Prometheus families under RabbitMQ's names (rabbitmq_prometheus' per-object and
 * global families), so dashboards and alerts written for RabbitMQ read Warren unchanged: per-queue
 * ready/unacked/total messages and consumers, object counts, global message counters, and memory.
 */
import { sumMessageStats } from '../../broker/message-stats.js';
import type { MetricCollector, MetricFamily, MetricLabels, MetricSample } from '../../metrics/metric-family.js';
import { DELIVERY_ATTEMPT_BUCKETS, type Queue } from '../../broker/queue.js';
import type { ManagementBackend } from './backend.js';

const sample = (labels: MetricLabels, value: number): MetricSample => ({ suffix: '', labels, value });
const gauge = (name: string, help: string, samples: MetricSample[]): MetricFamily => ({ name, help, type: 'gauge', samples });
const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'counter', samples: [sample({}, value)] });

/** A collector of the `rabbitmq_*` families of the node behind `backend`. */
export function brokerMetricsCollector(backend: ManagementBackend): MetricCollector {
  return { collect: () => brokerFamilies(backend) };
}

/** The families, queues in vhost then name order. */
export function brokerFamilies(backend: ManagementBackend): MetricFamily[] {
  const vhosts = [...backend.broker.vhosts.values()];
  const queues = vhosts.flatMap((vhost) => [...vhost.queues.values()]).sort((a, b) => (a.vhost + a.name < b.vhost + b.name ? -1 : 1));
  const perQueue = (name: string, help: string, read: (queue: (typeof queues)[number]) => number): MetricFamily =>
    gauge(name, help, queues.map((queue) => sample({ vhost: queue.vhost, queue: queue.name }, read(queue))));
  const connections = backend.connections();
  const channels = connections.reduce((sum, connection) => sum + connection.channels.length, 0);
  const stats = sumMessageStats(vhosts.map((vhost) => vhost.stats));
  const families: MetricFamily[] = [
    perQueue('rabbitmq_queue_messages_ready', 'Messages ready to be delivered to consumers', (queue) => queue.messageCount),
    perQueue('rabbitmq_queue_messages_unacked', 'Messages delivered to consumers but not yet acknowledged', (queue) => queue.unackedCount),
    perQueue('rabbitmq_queue_messages', 'Sum of ready and unacknowledged messages - total queue depth', (queue) => queue.messageCount + queue.unackedCount),
    perQueue('rabbitmq_queue_messages_ready_bytes', 'Size in bytes of ready messages', (queue) => queue.messageBytes),
    perQueue('rabbitmq_queue_consumers', 'Consumers on a queue', (queue) => queue.consumerCount),
    gauge('rabbitmq_queues', 'Queues available', [sample({}, queues.length)]),
    gauge('rabbitmq_connections', 'Connections currently open', [sample({}, connections.length)]),
    gauge('rabbitmq_channels', 'Channels currently open', [sample({}, channels)]),
    gauge('rabbitmq_consumers', 'Consumers currently connected', [sample({}, queues.reduce((sum, queue) => sum + queue.consumerCount, 0))]),
    counter('rabbitmq_global_messages_received_total', 'Total number of messages received from publishers', stats.publish),
    counter('rabbitmq_global_messages_routed_total', 'Total number of messages routed to queues', stats.publish - stats.dropUnroutable - stats.returnUnroutable),
    counter('rabbitmq_global_messages_unroutable_dropped_total', 'Total number of messages published as non-mandatory into an exchange and dropped as unroutable', stats.dropUnroutable),
    counter('rabbitmq_global_messages_unroutable_returned_total', 'Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable', stats.returnUnroutable),
    counter('rabbitmq_global_messages_confirmed_total', 'Total number of messages confirmed to publishers', stats.confirm),
    counter('rabbitmq_global_messages_delivered_total', 'Total number of messages delivered to consumers', stats.deliver + stats.deliverNoAck + stats.get + stats.getNoAck),
    counter('rabbitmq_global_messages_delivered_consume_manual_ack_total', 'Total number of messages delivered to consumers using manual acknowledgement mode', stats.deliver),
    counter('rabbitmq_global_messages_delivered_consume_auto_ack_total', 'Total number of messages delivered to consumers using automatic acknowledgement mode', stats.deliverNoAck),
    counter('rabbitmq_global_messages_delivered_get_manual_ack_total', 'Total number of messages delivered using basic.get in manual acknowledgement mode', stats.get),
    counter('rabbitmq_global_messages_delivered_get_auto_ack_total', 'Total number of messages delivered using basic.get in automatic acknowledgement mode', stats.getNoAck),
    counter('rabbitmq_global_messages_redelivered_total', 'Total number of messages redelivered to consumers', stats.redeliver),
    counter('rabbitmq_global_messages_acknowledged_total', 'Total number of messages acknowledged by consumers', stats.ack),
    gauge('rabbitmq_process_resident_memory_bytes', 'Memory used in bytes', [sample({}, process.memoryUsage.rss())]),
  ];
  families.push(...queueAgeFamilies(backend, queues));
  const delayed = vhosts.flatMap((vhost) => [...vhost.delayedMessages.heldByExchange()].map(([exchange, held]) => ({ labels: { vhost: vhost.name, exchange }, held })));
  families.push(
    gauge('warren_exchange_delayed_messages', 'Messages an x-delayed-message exchange holds until their delay is over', delayed.map(({ labels, held }) => sample(labels, held.count))),
    gauge('warren_exchange_delayed_next_due_timestamp_seconds', 'When the next held message of an x-delayed-message exchange is due (Unix time)', delayed.map(({ labels, held }) => sample(labels, held.nextDueAtMs / 1000))),
  );
  return families;
}

/**
 * Warren's per-queue families RabbitMQ lacks: how long the oldest ready and the oldest unacknowledged
 * message have waited, and a histogram of deliveries by attempt (1 = first delivery, 2 = after one
 * return, ...), which shows messages going round.
 */
function queueAgeFamilies(backend: ManagementBackend, queues: readonly Queue[]): MetricFamily[] {
  const now = Date.now();
  const oldestUnacked = backend.oldestUnackedByQueue();
  const readyAges: MetricSample[] = [];
  const unackedAges: MetricSample[] = [];
  const attempts: MetricSample[] = [];
  for (const queue of queues) {
    const labels = { vhost: queue.vhost, queue: queue.name };
    const readyAgeMs = queue.oldestReadyAgeMs(now);
    if (readyAgeMs !== undefined) readyAges.push(sample(labels, readyAgeMs / 1000));
    const deliveredAt = oldestUnacked.get(queue);
    if (deliveredAt !== undefined) unackedAges.push(sample(labels, Math.max(0, now - deliveredAt) / 1000));
    attempts.push(...attemptSamples(labels, queue));
  }
  return [
    gauge('warren_queue_oldest_ready_age_seconds', 'How long the oldest ready message of a queue has waited (to 0.1 s; queues with ready messages only)', readyAges),
    gauge('warren_queue_oldest_unacked_age_seconds', 'How long the oldest unacknowledged delivery of a queue has been held (queues with unacknowledged messages only)', unackedAges),
    { name: 'warren_queue_delivery_attempt', help: 'Deliveries of a queue by attempt number (x-delivery-count + 1), since the node started', type: 'histogram', samples: attempts },
  ];
}

/** The histogram samples of one queue's deliveries by attempt; none for a queue that never delivered. */
function attemptSamples(labels: MetricLabels, queue: Queue): MetricSample[] {
  const total = queue.deliveriesByAttempt.reduce((sum, count) => sum + count, 0);
  if (total === 0) return [];
  const samples: MetricSample[] = [];
  let cumulative = 0;
  for (let bucket = 0; bucket < DELIVERY_ATTEMPT_BUCKETS; bucket++) {
    cumulative += queue.deliveriesByAttempt[bucket] ?? 0;
    samples.push({ suffix: '_bucket', labels: { ...labels, le: String(bucket + 1) }, value: cumulative });
  }
  samples.push({ suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: total });
  samples.push({ suffix: '_sum', labels, value: queue.deliveryAttemptsSum });
  samples.push({ suffix: '_count', labels, value: total });
  return samples;
}
