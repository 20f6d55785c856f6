// Parent-side helpers for the persistent and backlog benchmarks: a forked bench/persistent-worker.ts
// process with request/response over IPC, an admin connection that declares durable queues, CPU
// accounting by who used it, peak-RSS sampling by phase, and the broker's disk writes from /proc.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import { processCpuTimeMs, processTree, registerEmergencyCleanup, round, systemCpuSample, type BrokerHandle } from './common.js';
import type {
  ConfirmLatencySummary,
  FromPersistentWorker,
  PersistentWorkerConfig,
  PersistentWorkerCounters,
  ToPersistentWorker,
} from './persistent-worker.js';

/** A worker's counters at one instant, with the time as a bigint. */
export interface WorkerMark extends Omit<PersistentWorkerCounters, 'atNs'> {
  readonly atNs: bigint;
  readonly latency?: ConfirmLatencySummary;
}

/** What a worker reported when it reached its message limit. */
export interface WorkerDone extends WorkerMark {
  readonly startedNs: bigint;
}

function toMark(message: PersistentWorkerCounters & { latency?: ConfirmLatencySummary }): WorkerMark {
  return {
    count: message.count,
    confirmed: message.confirmed,
    nacked: message.nacked,
    blockedMs: message.blockedMs,
    atNs: BigInt(message.atNs),
    ...(message.latency === undefined ? {} : { latency: message.latency }),
  };
}

/** A forked persistent-benchmark worker (producer or consumer). */
export class PersistentWorkerProcess {
  private readonly child: ChildProcess;
  private pendingMark: ((mark: WorkerMark) => void) | undefined;
  private failure: Error | undefined;
  private readonly ready: Promise<void>;
  /** Resolves when the worker reports `done` (it reached its message limit); rejects if it fails. */
  readonly done: Promise<WorkerDone>;

  /** Forks the worker; it connects and reports ready but does nothing until {@link start}. */
  constructor(config: PersistentWorkerConfig) {
    const script = fileURLToPath(new URL('./persistent-worker.ts', import.meta.url));
    this.child = fork(script, [JSON.stringify(config)], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const unregister = registerEmergencyCleanup(() => this.child.kill('SIGKILL'));
    this.child.once('exit', unregister);
    let resolveDone: (done: WorkerDone) => void = () => undefined;
    let rejectDone: (error: Error) => void = () => undefined;
    this.done = new Promise((resolve, reject) => {
      resolveDone = resolve;
      rejectDone = reject;
    });
    // Callers that never wait for `done` must not see an unhandled rejection.
    this.done.catch(() => undefined);
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (message: FromPersistentWorker) => {
        switch (message.type) {
          case 'ready':
            resolve();
            break;
          case 'mark':
            this.pendingMark?.(toMark(message));
            break;
          case 'done':
            resolveDone({ ...toMark(message), startedNs: BigInt(message.startedNs) });
            break;
          case 'error':
            this.failure = new Error(`${config.role}: ${message.message}`);
            reject(this.failure);
            rejectDone(this.failure);
            break;
        }
      });
      this.child.once('exit', (code) => {
        this.failure ??= new Error(`${config.role} process exited with code ${String(code)}`);
        reject(this.failure);
        rejectDone(this.failure);
      });
    });
  }

  /** Process id, for /proc sampling. */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Resolves when the worker is connected and its channel set up. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Tells the worker to start publishing or consuming. */
  start(): void {
    this.child.send({ type: 'start' } satisfies ToPersistentWorker);
  }

  /** Asks the worker for its counters; with `latency`, also the confirm latencies since the last such mark. */
  mark(latency = false): Promise<WorkerMark> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker did not answer a mark within 10 s')), 10_000);
      this.pendingMark = (mark) => {
        clearTimeout(timer);
        this.pendingMark = undefined;
        resolve(mark);
      };
      this.child.send({ type: 'mark', latency } satisfies ToPersistentWorker);
    });
  }

  /** Tells the worker to close its connection and exit; kills it if it takes too long. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ToPersistentWorker);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** An amqplib connection for declaring, counting and deleting the benchmark's durable queue. */
export class AdminConnection {
  private constructor(
    private readonly model: amqplib.ChannelModel,
    private readonly channel: amqplib.Channel,
  ) {}

  /** Connects to `url` and opens one channel. */
  static async open(url: string): Promise<AdminConnection> {
    const model = await amqplib.connect(url);
    model.on('error', () => undefined);
    return new AdminConnection(model, await model.createChannel());
  }

  /** Declares a durable (non-exclusive, non-auto-delete) queue and purges it. */
  async declareDurableQueue(queue: string): Promise<void> {
    await this.channel.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false });
    await this.channel.purgeQueue(queue);
  }

  /** Ready messages in `queue` (passive declare). */
  async messageCount(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).messageCount;
  }

  /** Deletes `queue`. */
  async deleteQueue(queue: string): Promise<void> {
    await this.channel.deleteQueue(queue);
  }

  /** Closes the channel and connection. */
  async close(): Promise<void> {
    await this.model.close();
  }
}

/** CPU use over an interval, percent of one core, by who used it. */
export interface CpuShares {
  readonly broker: number;
  readonly producer: number;
  readonly consumer: number;
  /** The coordinating benchmark process. */
  readonly runner: number;
  /** Hard and soft interrupts (loopback TCP), not charged to a process. */
  readonly interrupts: number;
  /** Processes outside the benchmark: noise from other work on the machine. */
  readonly others: number;
  /** Every process on the machine. */
  readonly machine: number;
}

interface CpuSample {
  readonly atNs: bigint;
  readonly broker: number;
  readonly producer: number;
  readonly consumer: number;
  readonly runner: number;
  readonly interrupts: number;
  readonly machine: number;
}

/** Samples CPU time of the broker, the two workers, the runner and the machine; diffs two samples. */
export class CpuMeter {
  /** `workerPids` are read at each sample, so a worker started later is counted from then on. */
  constructor(
    private readonly broker: BrokerHandle,
    private readonly workerPids: () => { producer: number; consumer: number },
  ) {}

  /** Takes a sample now. */
  sample(): CpuSample {
    const runner = process.cpuUsage();
    const machine = systemCpuSample();
    const pids = this.workerPids();
    return {
      atNs: process.hrtime.bigint(),
      broker: this.broker.cpuTimeMs(),
      producer: pids.producer === 0 ? 0 : processCpuTimeMs(pids.producer),
      consumer: pids.consumer === 0 ? 0 : processCpuTimeMs(pids.consumer),
      runner: (runner.user + runner.system) / 1000,
      interrupts: machine.interruptMs,
      machine: machine.busyMs,
    };
  }

  /** CPU shares between two samples (a worker absent at `from` counts from zero, as it started after). */
  static shares(from: CpuSample, to: CpuSample): CpuShares {
    const wallMs = Number(to.atNs - from.atNs) / 1e6;
    const percent = (key: Exclude<keyof CpuSample, 'atNs'>): number =>
      wallMs > 0 ? (Math.max(0, to[key] - from[key]) / wallMs) * 100 : 0;
    const ours = (['broker', 'producer', 'consumer', 'runner', 'interrupts'] as const).reduce((sum, key) => sum + percent(key), 0);
    return {
      broker: round(percent('broker'), 1),
      producer: round(percent('producer'), 1),
      consumer: round(percent('consumer'), 1),
      runner: round(percent('runner'), 1),
      interrupts: round(percent('interrupts'), 1),
      others: round(Math.max(0, percent('machine') - ours), 1),
      machine: round(percent('machine'), 1),
    };
  }
}

/** A one-line reading of CPU shares: what limited the run. */
export function describeBottleneck(shares: CpuShares, brokerName: string): string {
  const capacity = cpus().length * 100;
  const largest = (['broker', 'producer', 'consumer'] as const).reduce((a, b) => (shares[a] >= shares[b] ? a : b));
  const saturated = shares.machine >= capacity * 0.9;
  const parts = [
    `${saturated ? 'CPU-bound' : 'machine not saturated'}: machine at ${round(shares.machine, 0)}% of ${capacity}%`,
    `${largest} uses the most (${round(shares[largest], 0)}%)`,
  ];
  // One queue runs on one core in both brokers: Warren's one Node thread, RabbitMQ's one Erlang
  // process per classic queue. Near 100 % the queue, not the machine, is the limit.
  if (shares.broker >= 90) {
    parts.push(`${brokerName} is near one full core (${brokerName === 'warren' ? 'one Node thread' : 'a classic queue is one Erlang process'})`);
  } else if (!saturated) {
    parts.push('no process is at a full core: waiting on fsync, confirms or the window');
  }
  if (shares.interrupts >= 10) parts.push(`kernel interrupts ${round(shares.interrupts, 0)}%`);
  if (shares.others >= 10) parts.push(`processes outside the benchmark took ${round(shares.others, 0)}%`);
  return parts.join('; ');
}

/** Bytes the broker's process tree caused to be written to storage so far (/proc/<pid>/io write_bytes). */
export function brokerDiskWriteBytes(broker: BrokerHandle): number {
  let total = 0;
  for (const pid of processTree(broker.pid)) {
    try {
      const match = /^write_bytes:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
      total += Number(match?.[1] ?? 0);
    } catch {
      // Gone, or not ours to read.
    }
  }
  return total;
}

/** Samples a broker's RSS in the background, keeping the overall peak and a peak per named phase. */
export class PhasedRssSampler {
  private peakBytes = 0;
  private phase = '';
  private readonly phasePeaks = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  /** Starts sampling `broker` every `intervalMs`. */
  constructor(
    private readonly broker: BrokerHandle,
    intervalMs = 250,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Takes a sample now and returns it, in bytes. */
  sample(): number {
    const bytes = this.broker.memoryRssBytes();
    this.peakBytes = Math.max(this.peakBytes, bytes);
    this.phasePeaks.set(this.phase, Math.max(this.phasePeaks.get(this.phase) ?? 0, bytes));
    return bytes;
  }

  /** Samples, then attributes later samples to `phase`. */
  enter(phase: string): void {
    this.sample();
    this.phase = phase;
    this.sample();
  }

  /** Peak RSS seen during `phase`, in bytes. */
  phasePeakBytes(phase: string): number {
    return this.phasePeaks.get(phase) ?? 0;
  }

  /** Stops sampling and returns the overall peak, in bytes. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peakBytes;
  }
}
