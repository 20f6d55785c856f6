// Persistent throughput benchmark: one producer process publishing persistent messages (delivery
// mode 2) with publisher confirms and a window of unconfirmed publishes, one consumer process with
// manual acks, one durable queue, for a fixed window after a warmup. Reports the publish, confirm
// and consume rates, publish-to-confirm latency, where the CPU went, broker RSS and disk writes.
import { setTimeout as sleep } from 'node:timers/promises';
import { cpus } from 'node:os';
import { mebibytes, round, type BrokerHandle } from './common.js';
import {
  AdminConnection,
  CpuMeter,
  PersistentWorkerProcess,
  PhasedRssSampler,
  brokerDiskWriteBytes,
  describeBottleneck,
  type WorkerMark,
} from './persistent-process.js';

/** Settings for one persistent throughput run. */
export interface PersistentOptions {
  /** Measurement window, in seconds. */
  readonly seconds: number;
  /** Unmeasured run-in before the window, in seconds. */
  readonly warmupSeconds: number;
  /** Message body size, in bytes. */
  readonly messageSizeBytes: number;
  /** Most publishes left unconfirmed by the producer. */
  readonly window: number;
  /** Consumer prefetch count (basic.qos). */
  readonly prefetch: number;
  /** Consumer sends one basic.ack(multiple) every this many deliveries. */
  readonly ackEvery: number;
}

/** One persistent throughput measurement, as written to the JSON lines output. */
export interface PersistentResult {
  readonly bench: 'persistent';
  readonly broker: string;
  readonly brokerVersion: string;
  readonly client: 'amqplib';
  readonly messageSizeBytes: number;
  readonly window: number;
  readonly prefetch: number;
  readonly ackEvery: number;
  readonly seconds: number;
  /** Rate at which the producer handed messages to its client (bounded by the confirm window). */
  readonly publishedPerSecond: number;
  /** Rate of publisher confirms (basic.ack from the broker): messages the broker says are on disk. */
  readonly confirmedPerSecond: number;
  /** Deliveries the consumer received: the end-to-end rate. */
  readonly consumedPerSecond: number;
  readonly published: number;
  readonly confirmed: number;
  readonly nacked: number;
  readonly consumed: number;
  /** Ready messages in the queue when the window opened and closed: growth means the consumer fell behind. */
  readonly backlogAtStart: number;
  readonly backlogAtEnd: number;
  /** Publish-to-confirm time of the messages confirmed in the window (a multiple ack settles every tag up to it). */
  readonly confirmSamples: number;
  readonly confirmP50Ms: number;
  readonly confirmP90Ms: number;
  readonly confirmP99Ms: number;
  readonly confirmP999Ms: number;
  readonly confirmMaxMs: number;
  readonly confirmMeanMs: number;
  /** Time the producer's connection spent blocked (connection.blocked) in the window. */
  readonly producerBlockedMs: number;
  /** CPU use during the window, percent of one core (200 = both cores of a 2-core machine). */
  readonly brokerCpuPercent: number;
  readonly producerCpuPercent: number;
  readonly consumerCpuPercent: number;
  readonly runnerCpuPercent: number;
  readonly interruptCpuPercent: number;
  /** CPU used by processes that are not part of this benchmark: noise from other work on the machine. */
  readonly otherProcessesCpuPercent: number;
  readonly machineCpuPercent: number;
  readonly cpuCount: number;
  /** Bytes the broker caused to be written to storage in the window, per second (/proc/<pid>/io). */
  readonly brokerDiskWriteMiBPerSecond: number;
  readonly brokerRssBytesPeak: number;
  readonly brokerRssMiBPeak: number;
  /** A one-line reading of the CPU figures: what limited this run. */
  readonly bottleneck: string;
}

function rate(from: WorkerMark, to: WorkerMark, count: (mark: WorkerMark) => number): number {
  const seconds = Number(to.atNs - from.atNs) / 1e9;
  return seconds > 0 ? Math.round((count(to) - count(from)) / seconds) : 0;
}

/** Runs one persistent throughput measurement against `broker`. */
export async function runPersistent(broker: BrokerHandle, options: PersistentOptions): Promise<PersistentResult> {
  const queue = `warren-bench-persistent-${process.pid}-${Date.now()}`;
  const admin = await AdminConnection.open(broker.url);
  await admin.declareDurableQueue(queue);
  const common = {
    url: broker.url,
    queue,
    messageSizeBytes: options.messageSizeBytes,
    window: options.window,
    prefetch: options.prefetch,
    ackEvery: options.ackEvery,
    messageLimit: 0,
  };
  const consumer = new PersistentWorkerProcess({ ...common, role: 'consumer' });
  let producer: PersistentWorkerProcess | undefined;
  const rss = new PhasedRssSampler(broker);
  const cpu = new CpuMeter(broker, () => ({ producer: producer?.pid ?? 0, consumer: consumer.pid }));
  try {
    await consumer.whenReady();
    consumer.start();
    producer = new PersistentWorkerProcess({ ...common, role: 'producer' });
    await producer.whenReady();
    producer.start();
    await sleep(options.warmupSeconds * 1000);

    const cpuBefore = cpu.sample();
    const diskBefore = brokerDiskWriteBytes(broker);
    const [producedFrom, consumedFrom, backlogAtStart] = await Promise.all([
      producer.mark(true),
      consumer.mark(),
      admin.messageCount(queue),
    ]);
    await sleep(options.seconds * 1000);
    const [producedTo, consumedTo, backlogAtEnd] = await Promise.all([
      producer.mark(true),
      consumer.mark(),
      admin.messageCount(queue),
    ]);
    const cpuAfter = cpu.sample();
    const diskAfter = brokerDiskWriteBytes(broker);
    const windowSeconds = Number(cpuAfter.atNs - cpuBefore.atNs) / 1e9;
    const shares = CpuMeter.shares(cpuBefore, cpuAfter);
    const latency = producedTo.latency;
    const brokerRssBytesPeak = rss.stop();
    return {
      bench: 'persistent',
      broker: broker.name,
      brokerVersion: broker.version,
      client: 'amqplib',
      messageSizeBytes: options.messageSizeBytes,
      window: options.window,
      prefetch: options.prefetch,
      ackEvery: options.ackEvery,
      seconds: options.seconds,
      publishedPerSecond: rate(producedFrom, producedTo, (mark) => mark.count),
      confirmedPerSecond: rate(producedFrom, producedTo, (mark) => mark.confirmed),
      consumedPerSecond: rate(consumedFrom, consumedTo, (mark) => mark.count),
      published: producedTo.count - producedFrom.count,
      confirmed: producedTo.confirmed - producedFrom.confirmed,
      nacked: producedTo.nacked - producedFrom.nacked,
      consumed: consumedTo.count - consumedFrom.count,
      backlogAtStart,
      backlogAtEnd,
      confirmSamples: latency?.samples ?? 0,
      confirmP50Ms: latency?.p50Ms ?? Number.NaN,
      confirmP90Ms: latency?.p90Ms ?? Number.NaN,
      confirmP99Ms: latency?.p99Ms ?? Number.NaN,
      confirmP999Ms: latency?.p999Ms ?? Number.NaN,
      confirmMaxMs: latency?.maxMs ?? Number.NaN,
      confirmMeanMs: latency?.meanMs ?? Number.NaN,
      producerBlockedMs: producedTo.blockedMs - producedFrom.blockedMs,
      brokerCpuPercent: shares.broker,
      producerCpuPercent: shares.producer,
      consumerCpuPercent: shares.consumer,
      runnerCpuPercent: shares.runner,
      interruptCpuPercent: shares.interrupts,
      otherProcessesCpuPercent: shares.others,
      machineCpuPercent: shares.machine,
      cpuCount: cpus().length,
      brokerDiskWriteMiBPerSecond: windowSeconds > 0 ? round(mebibytes(diskAfter - diskBefore) / windowSeconds, 1) : 0,
      brokerRssBytesPeak,
      brokerRssMiBPeak: mebibytes(brokerRssBytesPeak),
      bottleneck: describeBottleneck(shares, broker.name),
    };
  } finally {
    rss.stop();
    await Promise.all([producer?.stop(), consumer.stop()]);
    await admin.deleteQueue(queue).catch(() => undefined);
    await admin.close().catch(() => undefined);
  }
}
