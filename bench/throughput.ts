// Throughput benchmark: one producer process and one consumer process on one transient queue,
// small transient messages, for a fixed measurement window after a warmup. Reports the publish and
// consume rates plus where the CPU went (broker, producer, consumer, whole machine) and broker RSS.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { openConnection, type ClientName } from './clients.js';
import { RssSampler, processCpuTimeMs, registerEmergencyCleanup, round, mebibytes, systemCpuSample, type BrokerHandle } from './common.js';
import type { FromWorker, ThroughputWorkerConfig, ToWorker } from './throughput-worker.js';

/** Consumer acknowledgement mode: manual acks with multiple=true every N, or no-ack. */
export type AckMode = 'multiple' | 'none';

/** Settings for one throughput run. */
export interface ThroughputOptions {
  /** Client library for both producer and consumer. */
  readonly client: ClientName;
  /** Measurement window, in seconds. */
  readonly seconds: number;
  /** Unmeasured run-in before the window, in seconds. */
  readonly warmupSeconds: number;
  /** Message body size, in bytes. */
  readonly messageSizeBytes: number;
  /** Consumer acknowledgement mode. */
  readonly ack: AckMode;
  /** Consumer prefetch count (basic.qos). */
  readonly prefetch: number;
  /** With manual acks: one basic.ack(multiple) every this many deliveries. */
  readonly ackEvery: number;
}

/** One throughput measurement, as written to the JSON lines output. */
export interface ThroughputResult {
  readonly bench: 'throughput';
  readonly broker: string;
  readonly brokerVersion: string;
  readonly client: ClientName;
  readonly ack: AckMode;
  readonly prefetch: number;
  readonly ackEvery: number;
  readonly messageSizeBytes: number;
  readonly seconds: number;
  /**
   * Rate at which the producer handed messages to its socket. Kernel socket buffers hold a lot of
   * 16-byte messages (about 100k), so over a short window this can exceed what the broker took in.
   */
  readonly publishedPerSecond: number;
  /** End-to-end rate: deliveries the consumer received. The headline throughput figure. */
  readonly consumedPerSecond: number;
  readonly published: number;
  readonly consumed: number;
  /** Ready messages in the queue when the window opened and closed: growth means the consumer fell behind. */
  readonly backlogAtStart: number;
  readonly backlogAtEnd: number;
  /**
   * Messages published in the window that were neither consumed nor in the queue at its end:
   * they sit in socket buffers or inside the broker. Large values mean publishedPerSecond overstates.
   */
  readonly inTransitGrowth: number;
  /** CPU use during the window, percent of one core (200 = both cores of a 2-core machine). */
  readonly brokerCpuPercent: number;
  readonly producerCpuPercent: number;
  readonly consumerCpuPercent: number;
  /** The benchmark's coordinating process (holds an idle admin connection, samples /proc). */
  readonly runnerCpuPercent: number;
  /** Kernel hard and soft interrupt time (loopback TCP), not charged to any process. */
  readonly interruptCpuPercent: number;
  /** CPU used by processes that are not part of this benchmark: noise from other work on the machine. */
  readonly otherProcessesCpuPercent: number;
  /** CPU use of every process on the machine during the window, percent of one core. */
  readonly machineCpuPercent: number;
  readonly cpuCount: number;
  readonly brokerRssBytesPeak: number;
  readonly brokerRssMiBPeak: number;
  /** A one-line reading of the CPU figures: what limited this run. */
  readonly bottleneck: string;
}

interface Mark {
  readonly count: number;
  readonly atNs: bigint;
}

/** A forked throughput worker with a request/response `mark` over IPC. */
class WorkerProcess {
  private readonly child: ChildProcess;
  private pendingMark: ((mark: Mark) => void) | undefined;
  private failure: Error | undefined;
  private readonly ready: Promise<void>;

  constructor(config: ThroughputWorkerConfig) {
    const script = fileURLToPath(new URL('./throughput-worker.ts', import.meta.url));
    this.child = fork(script, [JSON.stringify(config)], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const unregister = registerEmergencyCleanup(() => this.child.kill('SIGKILL'));
    this.child.once('exit', unregister);
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (message: FromWorker) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'mark') this.pendingMark?.({ count: message.count, atNs: BigInt(message.atNs) });
        else {
          this.failure = new Error(`${config.role}: ${message.message}`);
          reject(this.failure);
        }
      });
      this.child.once('exit', (code) => {
        this.failure ??= new Error(`${config.role} process exited with code ${String(code)}`);
        reject(this.failure);
      });
    });
  }

  /** Process id, for /proc sampling. */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Resolves when the worker is connected and (for a consumer) consuming. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Asks the worker for its message count now. */
  mark(): Promise<Mark> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker did not answer a mark within 10 s')), 10_000);
      this.pendingMark = (mark) => {
        clearTimeout(timer);
        this.pendingMark = undefined;
        resolve(mark);
      };
      this.child.send({ type: 'mark' } satisfies ToWorker);
    });
  }

  /** Tells the worker to close its connection and exit; kills it if it takes too long. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ToWorker);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

function rate(from: Mark, to: Mark): number {
  const seconds = Number(to.atNs - from.atNs) / 1e9;
  return seconds > 0 ? (to.count - from.count) / seconds : 0;
}

/** CPU use during a window, in percent of one core, split by who used it. */
interface CpuShares {
  readonly broker: number;
  readonly producer: number;
  readonly consumer: number;
  /** This benchmark's own coordinating process (mostly idle). */
  readonly runner: number;
  /** Hard and soft interrupts: loopback TCP processing the kernel does not charge to a process. */
  readonly interrupts: number;
  /** Everything else on the machine: processes that are not part of this benchmark. */
  readonly others: number;
  readonly machine: number;
}

function describeBottleneck(shares: CpuShares, brokerName: string): string {
  const capacity = cpus().length * 100;
  const largest = (['broker', 'producer', 'consumer'] as const).reduce((a, b) => (shares[a] >= shares[b] ? a : b));
  const saturated = shares.machine >= capacity * 0.9;
  const parts = [
    `${saturated ? 'CPU-bound' : 'not CPU-bound'}: machine at ${round(shares.machine, 0)}% of ${capacity}%`,
    `${largest} uses the most (${round(shares[largest], 0)}%)`,
  ];
  if (shares[largest] >= 90 && largest !== 'broker') parts.push(`${largest} is near one full core (single-threaded client)`);
  if (brokerName === 'warren' && shares.broker >= 90) parts.push('Warren is near one full core (one Node thread)');
  if (shares.interrupts >= 10) parts.push(`kernel interrupts ${round(shares.interrupts, 0)}%`);
  if (shares.others >= 10) parts.push(`processes outside the benchmark took ${round(shares.others, 0)}%`);
  return parts.join('; ');
}

/** Runs one throughput measurement against `broker`. */
export async function runThroughput(broker: BrokerHandle, options: ThroughputOptions): Promise<ThroughputResult> {
  const queue = `warren-bench-throughput-${process.pid}-${Date.now()}`;
  const admin = await openConnection(options.client, broker.url);
  await admin.declareQueue(queue);
  const common = {
    client: options.client,
    url: broker.url,
    queue,
    messageSizeBytes: options.messageSizeBytes,
    consume: { noAck: options.ack === 'none', prefetch: options.prefetch, ackEvery: options.ackEvery },
  };
  const consumer = new WorkerProcess({ ...common, role: 'consumer' });
  let producer: WorkerProcess | undefined;
  const rss = new RssSampler(broker);
  try {
    await consumer.whenReady();
    producer = new WorkerProcess({ ...common, role: 'producer' });
    await producer.whenReady();
    await sleep(options.warmupSeconds * 1000);

    const sampleCpu = (): Record<'broker' | 'producer' | 'consumer' | 'runner' | 'interrupts' | 'machine', number> => {
      const runner = process.cpuUsage();
      const machine = systemCpuSample();
      return {
        broker: broker.cpuTimeMs(),
        producer: processCpuTimeMs(producer?.pid ?? 0),
        consumer: processCpuTimeMs(consumer.pid),
        runner: (runner.user + runner.system) / 1000,
        interrupts: machine.interruptMs,
        machine: machine.busyMs,
      };
    };
    const cpuBefore = sampleCpu();
    const startedNs = process.hrtime.bigint();
    const [producedFrom, consumedFrom, backlogAtStart] = await Promise.all([
      producer.mark(),
      consumer.mark(),
      admin.queueMessageCount(queue),
    ]);
    await sleep(options.seconds * 1000);
    const [producedTo, consumedTo, backlogAtEnd] = await Promise.all([
      producer.mark(),
      consumer.mark(),
      admin.queueMessageCount(queue),
    ]);
    const cpuAfter = sampleCpu();
    const wallMs = Number(process.hrtime.bigint() - startedNs) / 1e6;
    await producer.stop();

    const percent = (key: keyof typeof cpuBefore): number => ((cpuAfter[key] - cpuBefore[key]) / wallMs) * 100;
    const ours = ['broker', 'producer', 'consumer', 'runner', 'interrupts'] as const;
    const shares: CpuShares = {
      broker: percent('broker'),
      producer: percent('producer'),
      consumer: percent('consumer'),
      runner: percent('runner'),
      interrupts: percent('interrupts'),
      machine: percent('machine'),
      others: Math.max(0, percent('machine') - ours.reduce((sum, key) => sum + percent(key), 0)),
    };
    const brokerRssBytesPeak = rss.stop();
    const published = producedTo.count - producedFrom.count;
    const consumed = consumedTo.count - consumedFrom.count;
    return {
      bench: 'throughput',
      broker: broker.name,
      brokerVersion: broker.version,
      client: options.client,
      ack: options.ack,
      prefetch: options.prefetch,
      ackEvery: options.ack === 'none' ? 0 : options.ackEvery,
      messageSizeBytes: options.messageSizeBytes,
      seconds: options.seconds,
      publishedPerSecond: Math.round(rate(producedFrom, producedTo)),
      consumedPerSecond: Math.round(rate(consumedFrom, consumedTo)),
      published,
      consumed,
      backlogAtStart,
      backlogAtEnd,
      inTransitGrowth: published - consumed - (backlogAtEnd - backlogAtStart),
      brokerCpuPercent: round(shares.broker, 1),
      producerCpuPercent: round(shares.producer, 1),
      consumerCpuPercent: round(shares.consumer, 1),
      runnerCpuPercent: round(shares.runner, 1),
      interruptCpuPercent: round(shares.interrupts, 1),
      otherProcessesCpuPercent: round(shares.others, 1),
      machineCpuPercent: round(shares.machine, 1),
      cpuCount: cpus().length,
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
