/**
 * /metrics carries the broker's families under RabbitMQ's names: per-queue depth and consumers, object
 * counts and global message counters, checked against a known workload (amqplib) and with promtool.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { waitFor } from '../helpers/amqp.js';
import { promtoolCheckMetrics, skip as promtoolSkip } from '../helpers/promtool.js';

const options = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : promtoolSkip, timeout: 30_000 };

let node: WarrenNode;
let dataDir: string;

before(async () => {
  if (options.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-broker-metrics-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
});

after(async () => {
  if (options.skip !== false) return;
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** The value of the sample `name{labels}` in Prometheus text, or undefined. */
function valueOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('rabbitmq_* families follow a known workload and pass promtool', options, async () => {
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).text();
  const before = await scrape();
  const receivedBefore = valueOf(before, 'rabbitmq_global_messages_received_total') ?? 0;
  const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('metrics.q', { durable: false });
    for (let i = 0; i < 3; i++) channel.sendToQueue('metrics.q', Buffer.from(`m${i}`));
    await channel.waitForConfirms();
    await channel.prefetch(1);
    let delivered = 0;
    await channel.consume('metrics.q', () => delivered++);
    await waitFor(() => delivered === 1);
    const text = await scrape();
    const queue = '{vhost="/",queue="metrics.q"}';
    assert.deepEqual(
      {
        ready: valueOf(text, `rabbitmq_queue_messages_ready${queue}`), unacked: valueOf(text, `rabbitmq_queue_messages_unacked${queue}`),
        total: valueOf(text, `rabbitmq_queue_messages${queue}`), consumers: valueOf(text, `rabbitmq_queue_consumers${queue}`),
        received: (valueOf(text, 'rabbitmq_global_messages_received_total') ?? 0) - receivedBefore,
      },
      { ready: 2, unacked: 1, total: 3, consumers: 1, received: 3 },
    );
    assert.ok((valueOf(text, 'rabbitmq_connections') ?? 0) >= 1);
    assert.ok((valueOf(text, 'rabbitmq_channels') ?? 0) >= 1);
    assert.ok((valueOf(text, 'rabbitmq_global_messages_confirmed_total') ?? 0) >= 3);
    assert.ok((valueOf(text, 'rabbitmq_process_resident_memory_bytes') ?? 0) > 0);
    assert.match(text, /# TYPE rabbitmq_global_messages_received_total counter/);
    // A delayed exchange's held messages and next due time.
    await channel.assertExchange('metrics.delayed', 'x-delayed-message', { durable: false, arguments: { 'x-delayed-type': 'direct' } });
    const publishedAt = Date.now();
    channel.publish('metrics.delayed', 'k', Buffer.from('later'), { headers: { 'x-delay': 60_000 } });
    channel.publish('metrics.delayed', 'k', Buffer.from('later still'), { headers: { 'x-delay': 120_000 } });
    await channel.waitForConfirms();
    const delayedText = await scrape();
    const exchange = '{vhost="/",exchange="metrics.delayed"}';
    assert.equal(valueOf(delayedText, `warren_exchange_delayed_messages${exchange}`), 2);
    const due = valueOf(delayedText, `warren_exchange_delayed_next_due_timestamp_seconds${exchange}`) ?? 0;
    assert.ok(Math.abs(due - (publishedAt + 60_000) / 1000) < 5, `next due ${due}`);
    const checked = promtoolCheckMetrics(delayedText);
    assert.equal(checked.status, 0, checked.output);
  } finally {
    await connection.close();
  }
});

test('warren_queue_* families: the oldest ready and unacknowledged ages, and deliveries by attempt', options, async () => {
  const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('metrics.age', { durable: false });
    const publishedAt = Date.now();
    channel.sendToQueue('metrics.age', Buffer.from('first'));
    channel.sendToQueue('metrics.age', Buffer.from('second'));
    await channel.waitForConfirms();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await channel.prefetch(1);
    const deliveries: amqplib.ConsumeMessage[] = [];
    await channel.consume('metrics.age', (message) => message !== null && deliveries.push(message));
    await waitFor(() => deliveries.length === 1);
    channel.nack(deliveries[0] as amqplib.ConsumeMessage, false, true);
    await waitFor(() => deliveries.length === 2);
    assert.equal(deliveries[1]?.fields.redelivered, true);
    const text = await (await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).text();
    const queue = '{vhost="/",queue="metrics.age"}';
    const readyAge = valueOf(text, `warren_queue_oldest_ready_age_seconds${queue}`) ?? -1;
    const waited = (Date.now() - publishedAt) / 1000;
    assert.ok(readyAge >= 0.25 && readyAge <= waited + 0.1, `oldest ready age ${readyAge} s, published ${waited} s ago`);
    const unackedAge = valueOf(text, `warren_queue_oldest_unacked_age_seconds${queue}`) ?? -1;
    assert.ok(unackedAge >= 0 && unackedAge < waited, `oldest unacked age ${unackedAge} s`);
    const bucket = (le: string): number | undefined => valueOf(text, `warren_queue_delivery_attempt_bucket{vhost="/",queue="metrics.age",le="${le}"}`);
    assert.deepEqual(
      { first: bucket('1'), second: bucket('2'), all: bucket('+Inf'), sum: valueOf(text, `warren_queue_delivery_attempt_sum${queue}`) },
      { first: 1, second: 2, all: 2, sum: 3 },
    );
    const checked = promtoolCheckMetrics(text);
    assert.equal(checked.status, 0, checked.output);
  } finally {
    await connection.close();
  }
});
