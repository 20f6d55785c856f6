// Queue-features benchmark (issue 4): the same backlog of transient messages published (with confirms)
// into, then drained from, three queues: a plain one, one where every message has a per-message TTL
// (`expiration`), and a priority queue (x-max-priority 10, priorities 0-9 round-robin). The features
// must keep throughput within 2x of the plain queue. Client work happens in this process; the broker
// runs as its own process.
import amqplib from 'amqplib';
import { round, type BrokerHandle } from './common.js';

/** The queue kinds compared. */
export const featureKinds = ['plain', 'ttl', 'priority'] as const;
export type FeatureKind = (typeof featureKinds)[number];

/** Settings of one run. */
export interface FeaturesOptions {
  /** Messages published, then drained, per queue kind. */
  readonly messages: number;
  readonly messageSizeBytes: number;
  /** Most unconfirmed publishes. */
  readonly window: number;
  readonly prefetch: number;
  readonly ackEvery: number;
}

/** One measurement, as written to the JSON lines output. */
export interface FeaturesResult {
  readonly bench: 'features';
  readonly broker: string;
  readonly kind: FeatureKind;
  readonly messages: number;
  /** Messages confirmed per second while building the backlog. */
  readonly publishPerSecond: number;
  /** Messages delivered per second while draining it. */
  readonly drainPerSecond: number;
  /** Ready messages once published (should equal `messages`: nothing expires during the run). */
  readonly queueLengthAfterPublish: number;
}

const TTL_MS = '600000';

/** Runs the three queue kinds, one after the other, against `broker`. */
export async function runFeatures(broker: BrokerHandle, options: FeaturesOptions): Promise<FeaturesResult[]> {
  // An unmeasured pass first, so the first measured kind does not pay for warming the broker up.
  for (const kind of featureKinds) await runOne(broker, kind, { ...options, messages: Math.min(options.messages, 20_000) });
  const results: FeaturesResult[] = [];
  for (const kind of featureKinds) results.push(await runOne(broker, kind, options));
  return results;
}

async function runOne(broker: BrokerHandle, kind: FeatureKind, options: FeaturesOptions): Promise<FeaturesResult> {
  const connection = await amqplib.connect(broker.url);
  try {
    const channel = await connection.createConfirmChannel();
    const queue = `warren-bench-features-${kind}-${process.pid}-${Date.now()}`;
    await channel.assertQueue(queue, { durable: false, arguments: kind === 'priority' ? { 'x-max-priority': 10 } : {} });
    const body = Buffer.alloc(options.messageSizeBytes, 'x');
    const publishStarted = process.hrtime.bigint();
    await publishAll(channel, queue, body, kind, options);
    const publishSeconds = Number(process.hrtime.bigint() - publishStarted) / 1e9;
    const { messageCount } = await channel.checkQueue(queue);
    const drainSeconds = await drainAll(connection, queue, options);
    await channel.deleteQueue(queue);
    return {
      bench: 'features',
      broker: broker.name,
      kind,
      messages: options.messages,
      publishPerSecond: Math.round(options.messages / publishSeconds),
      drainPerSecond: Math.round(options.messages / drainSeconds),
      queueLengthAfterPublish: messageCount,
    };
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function publishAll(channel: amqplib.ConfirmChannel, queue: string, body: Buffer, kind: FeatureKind, options: FeaturesOptions): Promise<void> {
  let outstanding = 0;
  let confirmed = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const onConfirm = (error: unknown): void => {
    outstanding--;
    confirmed++;
    if (error !== null && error !== undefined) failure ??= new Error('a publish was nacked');
    wake?.();
  };
  for (let i = 0; i < options.messages; i++) {
    while (outstanding >= options.window) await new Promise<void>((resolve) => (wake = resolve));
    if (failure !== undefined) throw failure;
    outstanding++;
    const properties = kind === 'ttl' ? { expiration: TTL_MS } : kind === 'priority' ? { priority: i % 10 } : {};
    channel.sendToQueue(queue, body, properties, onConfirm);
  }
  while (confirmed < options.messages) await new Promise<void>((resolve) => (wake = resolve));
  if (failure !== undefined) throw failure;
}

async function drainAll(connection: amqplib.ChannelModel, queue: string, options: FeaturesOptions): Promise<number> {
  const channel = await connection.createChannel();
  await channel.prefetch(options.prefetch);
  const started = process.hrtime.bigint();
  let received = 0;
  await new Promise<void>((resolve) => {
    void channel.consume(queue, (message) => {
      if (message === null) return;
      received++;
      if (received % options.ackEvery === 0 || received === options.messages) channel.ack(message, true);
      if (received === options.messages) resolve();
    });
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await channel.close();
  return round(seconds, 3);
}
