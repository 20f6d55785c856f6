// Backlog benchmark: publish N persistent messages with confirms (a window of unconfirmed
// publishes) to one durable queue with no consumer, then drain it with one consumer (manual acks)
// until it is empty. Reports the publish and drain rates, the broker's peak RSS over the whole run
// (and per phase), where the CPU went in each phase, and what the broker wrote to disk.
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { mebibytes, round, type BrokerHandle } from './common.js';
import {
  AdminConnection,
  CpuMeter,
  PersistentWorkerProcess,
  PhasedRssSampler,
  brokerDiskWriteBytes,
  describeBottleneck,
  type WorkerDone,
} from './persistent-process.js';

/** Settings for one backlog run. */
export interface BacklogOptions {
  /** Messages to publish, then drain. */
  readonly messages: number;
  /** Message body size, in bytes. */
  readonly messageSizeBytes: number;
  /** Most publishes left unconfirmed by the producer. */
  readonly window: number;
  /** Consumer prefetch count (basic.qos). */
  readonly prefetch: number;
  /** Consumer sends one basic.ack(multiple) every this many deliveries. */
  readonly ackEvery: number;
  /** Where progress notes go. */
  readonly log: (line: string) => void;
}

/** One backlog measurement, as written to the JSON lines output. */
export interface BacklogResult {
  readonly bench: 'backlog';
  readonly broker: string;
  readonly brokerVersion: string;
  readonly client: 'amqplib';
  readonly messages: number;
  readonly messageSizeBytes: number;
  readonly window: number;
  readonly prefetch: number;
  readonly ackEvery: number;
  /** Messages confirmed per second, from the first publish to the last confirm. */
  readonly publishPerSecond: number;
  /** Messages delivered per second, from basic.consume to the last delivery. */
  readonly drainPerSecond: number;
  readonly publishSeconds: number;
  readonly drainSeconds: number;
  /** From the first publish to the last delivery, including the pause between the phases. */
  readonly totalSeconds: number;
  readonly nacked: number;
  /** Ready messages after publishing (should equal `messages`) and after draining (should be 0). */
  readonly queueLengthAfterPublish: number;
  readonly queueLengthAfterDrain: number;
  /** Publish-to-confirm time over the whole publish phase. */
  readonly confirmP50Ms: number;
  readonly confirmP99Ms: number;
  readonly confirmMaxMs: number;
  /** Time the producer's connection spent blocked (connection.blocked). */
  readonly producerBlockedMs: number;
  /** Broker RSS peak over the whole run (sampled every 250 ms), and per phase. */
  readonly brokerRssMiBPeak: number;
  readonly brokerRssMiBPeakPublish: number;
  readonly brokerRssMiBPeakDrain: number;
  /** Broker RSS just before the drain started, with the whole backlog in the queue. */
  readonly brokerRssMiBFullQueue: number;
  readonly brokerRssMiBAfterDrain: number;
  readonly brokerRssBytesPeak: number;
  /** CPU use per phase, percent of one core. */
  readonly publishBrokerCpuPercent: number;
  readonly publishProducerCpuPercent: number;
  readonly publishOtherProcessesCpuPercent: number;
  readonly drainBrokerCpuPercent: number;
  readonly drainConsumerCpuPercent: number;
  readonly drainOtherProcessesCpuPercent: number;
  /** The larger of the two phases' figures: noise from other work on the machine. */
  readonly otherProcessesCpuPercent: number;
  readonly cpuCount: number;
  /** Bytes the broker caused to be written to storage in each phase (/proc/<pid>/io write_bytes). */
  readonly publishBrokerDiskWriteMiB: number;
  readonly drainBrokerDiskWriteMiB: number;
  readonly publishBottleneck: string;
  readonly drainBottleneck: string;
}

/** Waits for a worker's `done`, logging progress and failing if it stops making any for `stallMs`. */
async function waitDone(
  worker: PersistentWorkerProcess,
  label: string,
  total: number,
  options: BacklogOptions,
  stallMs = 60_000,
): Promise<WorkerDone> {
  let finished: WorkerDone | undefined;
  let failure: unknown;
  void worker.done.then(
    (done) => {
      finished = done;
    },
    (error: unknown) => {
      failure = error;
    },
  );
  let lastCount = -1;
  let lastProgressMs = Date.now();
  let lastLogMs = Date.now();
  const startedMs = Date.now();
  while (finished === undefined) {
    if (failure !== undefined) throw failure;
    await Promise.race([worker.done.catch(() => undefined), sleep(1000)]);
    if (finished !== undefined || failure !== undefined) continue;
    const mark = await worker.mark();
    const count = label === 'publish' ? mark.confirmed : mark.count;
    if (count !== lastCount) {
      lastCount = count;
      lastProgressMs = Date.now();
    } else if (Date.now() - lastProgressMs > stallMs) {
      throw new Error(`backlog ${label}: no progress for ${stallMs / 1000} s at ${count}/${total} (${mark.count} sent)`);
    }
    if (Date.now() - lastLogMs >= 15_000) {
      lastLogMs = Date.now();
      const seconds = (Date.now() - startedMs) / 1000;
      const detail = label === 'publish' ? `, ${mark.count} published, blocked ${mark.blockedMs} ms` : '';
      options.log(`  ${label}: ${count}/${total} after ${round(seconds, 0)} s (${Math.round(count / seconds)} msg/s${detail})`);
    }
  }
  return finished;
}

function seconds(done: WorkerDone): number {
  return Number(done.atNs - done.startedNs) / 1e9;
}

/** Runs one backlog measurement against `broker`. */
export async function runBacklog(broker: BrokerHandle, options: BacklogOptions): Promise<BacklogResult> {
  const queue = `warren-bench-backlog-${process.pid}-${Date.now()}`;
  const admin = await AdminConnection.open(broker.url);
  await admin.declareDurableQueue(queue);
  const common = {
    url: broker.url,
    queue,
    messageSizeBytes: options.messageSizeBytes,
    window: options.window,
    prefetch: options.prefetch,
    ackEvery: options.ackEvery,
    messageLimit: options.messages,
  };
  let producer: PersistentWorkerProcess | undefined;
  let consumer: PersistentWorkerProcess | undefined;
  const rss = new PhasedRssSampler(broker);
  const cpu = new CpuMeter(broker, () => ({ producer: producer?.pid ?? 0, consumer: consumer?.pid ?? 0 }));
  try {
    producer = new PersistentWorkerProcess({ ...common, role: 'producer' });
    await producer.whenReady();
    rss.enter('publish');
    const publishCpuBefore = cpu.sample();
    const publishDiskBefore = brokerDiskWriteBytes(broker);
    producer.start();
    const published = await waitDone(producer, 'publish', options.messages, options);
    const publishShares = CpuMeter.shares(publishCpuBefore, cpu.sample());
    const publishDiskMiB = mebibytes(brokerDiskWriteBytes(broker) - publishDiskBefore);
    await producer.stop();
    rss.enter('full');
    const queueLengthAfterPublish = await admin.messageCount(queue);
    const fullQueueRssBytes = rss.sample();

    consumer = new PersistentWorkerProcess({ ...common, role: 'consumer' });
    await consumer.whenReady();
    rss.enter('drain');
    const drainCpuBefore = cpu.sample();
    const drainDiskBefore = brokerDiskWriteBytes(broker);
    consumer.start();
    const drained = await waitDone(consumer, 'drain', options.messages, options);
    const drainShares = CpuMeter.shares(drainCpuBefore, cpu.sample());
    const drainDiskMiB = mebibytes(brokerDiskWriteBytes(broker) - drainDiskBefore);
    // Closing the consumer returns anything delivered but unacked to the queue, so the count
    // afterwards shows whether the drain really emptied it.
    await consumer.stop();
    rss.enter('after');
    await sleep(500);
    const queueLengthAfterDrain = await admin.messageCount(queue);
    const afterDrainRssBytes = rss.sample();
    const brokerRssBytesPeak = rss.stop();

    const publishSeconds = seconds(published);
    const drainSeconds = seconds(drained);
    return {
      bench: 'backlog',
      broker: broker.name,
      brokerVersion: broker.version,
      client: 'amqplib',
      messages: options.messages,
      messageSizeBytes: options.messageSizeBytes,
      window: options.window,
      prefetch: options.prefetch,
      ackEvery: options.ackEvery,
      publishPerSecond: Math.round(published.confirmed / publishSeconds),
      drainPerSecond: Math.round(drained.count / drainSeconds),
      publishSeconds: round(publishSeconds, 1),
      drainSeconds: round(drainSeconds, 1),
      totalSeconds: round(Number(drained.atNs - published.startedNs) / 1e9, 1),
      nacked: published.nacked,
      queueLengthAfterPublish,
      queueLengthAfterDrain,
      confirmP50Ms: published.latency?.p50Ms ?? Number.NaN,
      confirmP99Ms: published.latency?.p99Ms ?? Number.NaN,
      confirmMaxMs: published.latency?.maxMs ?? Number.NaN,
      producerBlockedMs: published.blockedMs,
      brokerRssMiBPeak: mebibytes(brokerRssBytesPeak),
      brokerRssMiBPeakPublish: mebibytes(rss.phasePeakBytes('publish')),
      brokerRssMiBPeakDrain: mebibytes(rss.phasePeakBytes('drain')),
      brokerRssMiBFullQueue: mebibytes(fullQueueRssBytes),
      brokerRssMiBAfterDrain: mebibytes(afterDrainRssBytes),
      brokerRssBytesPeak,
      publishBrokerCpuPercent: publishShares.broker,
      publishProducerCpuPercent: publishShares.producer,
      publishOtherProcessesCpuPercent: publishShares.others,
      drainBrokerCpuPercent: drainShares.broker,
      drainConsumerCpuPercent: drainShares.consumer,
      drainOtherProcessesCpuPercent: drainShares.others,
      otherProcessesCpuPercent: Math.max(publishShares.others, drainShares.others),
      cpuCount: cpus().length,
      publishBrokerDiskWriteMiB: publishDiskMiB,
      drainBrokerDiskWriteMiB: drainDiskMiB,
      publishBottleneck: describeBottleneck(publishShares, broker.name),
      drainBottleneck: describeBottleneck(drainShares, broker.name),
    };
  } finally {
    rss.stop();
    await Promise.all([producer?.stop(), consumer?.stop()]);
    await admin.deleteQueue(queue).catch(() => undefined);
    await admin.close().catch(() => undefined);
  }
}
