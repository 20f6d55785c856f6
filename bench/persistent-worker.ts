// One side (producer or consumer) of the persistent and backlog benchmarks, run as its own process
// by bench/persistent-process.ts so that the two clients can use both cores. Uses amqplib directly
// (like bench/clients.ts) because these benchmarks need publisher confirms and persistent messages.
//
// The producer publishes persistent messages (delivery mode 2) on a confirm channel and keeps at
// most `window` publishes unconfirmed. It timestamps each publish in a ring indexed by delivery
// tag and, when a basic.ack arrives (multiple or not), records publish-to-confirm time for every
// tag the ack settles. The consumer uses manual acks, a prefetch, and one basic.ack(multiple=true)
// every `ackEvery` deliveries.
//
// Parent protocol over IPC: the worker sends `ready` once connected, starts on `start`, answers
// `mark` with its counters, sends `done` when it reaches `messageLimit` (if any), exits on `stop`.
import amqplib from 'amqplib';
import type { ConsumeMessage } from 'amqplib';
import { performance } from 'node:perf_hooks';
import { percentile } from './common.js';

/** Configuration the parent passes as the first argument, JSON-encoded. */
export interface PersistentWorkerConfig {
  /** Which side this process plays. */
  readonly role: 'producer' | 'consumer';
  /** Broker URL. */
  readonly url: string;
  /** Durable queue to publish to (default exchange) or consume from; declared by the parent. */
  readonly queue: string;
  /** Body size of each published message, in bytes. */
  readonly messageSizeBytes: number;
  /** Producer: most publishes left unconfirmed at any time. */
  readonly window: number;
  /** Consumer: basic.qos prefetch count. */
  readonly prefetch: number;
  /** Consumer: one basic.ack(multiple=true) every this many deliveries. */
  readonly ackEvery: number;
  /**
   * Producer: publish this many messages and report `done` once all are confirmed. Consumer: report
   * `done` after this many deliveries (the last one is acked at once). 0 means run until `stop`.
   */
  readonly messageLimit: number;
}

/** Publish-to-confirm latency percentiles (nearest rank), in milliseconds. */
export interface ConfirmLatencySummary {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** Counters a worker reports in `mark` and `done`. */
export interface PersistentWorkerCounters {
  /** Producer: messages handed to the client. Consumer: deliveries received. */
  readonly count: number;
  /** Producer: publishes confirmed with basic.ack. */
  readonly confirmed: number;
  /** Producer: publishes refused with basic.nack. */
  readonly nacked: number;
  /** Producer: milliseconds the connection spent blocked (connection.blocked) so far. */
  readonly blockedMs: number;
  /** process.hrtime.bigint() at the reply (CLOCK_MONOTONIC, comparable across processes), as a string. */
  readonly atNs: string;
}

/** Messages from parent to worker. */
export type ToPersistentWorker =
  | { readonly type: 'start' }
  /** `latency`: include the confirm latencies recorded since the previous latency mark, and reset them. */
  | { readonly type: 'mark'; readonly latency: boolean }
  | { readonly type: 'stop' };

/** Messages from worker to parent. */
export type FromPersistentWorker =
  | { readonly type: 'ready' }
  | ({ readonly type: 'mark'; readonly latency?: ConfirmLatencySummary } & PersistentWorkerCounters)
  | ({
      readonly type: 'done';
      /** When the worker started publishing or consuming (hrtime ns, as a string). */
      readonly startedNs: string;
      /** Producer: confirmed latencies over the whole run. */
      readonly latency?: ConfirmLatencySummary;
    } & PersistentWorkerCounters)
  | { readonly type: 'error'; readonly message: string };

function send(message: FromPersistentWorker): void {
  process.send?.(message);
}

function nowNs(): string {
  return process.hrtime.bigint().toString();
}

/** A growable array of latency samples, in milliseconds. */
class LatencyRecorder {
  private samples = new Float64Array(1 << 18);
  private length = 0;

  add(valueMs: number): void {
    if (this.length === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.length++] = valueMs;
  }

  /** Summarises the samples since the last reset; with `reset`, starts a new set. */
  summary(reset: boolean): ConfirmLatencySummary {
    const sorted = this.samples.slice(0, this.length).sort();
    if (reset) this.length = 0;
    let sum = 0;
    for (const value of sorted) sum += value;
    const three = (value: number): number => Math.round(value * 1000) / 1000;
    return {
      samples: sorted.length,
      p50Ms: three(percentile(sorted, 50)),
      p90Ms: three(percentile(sorted, 90)),
      p99Ms: three(percentile(sorted, 99)),
      p999Ms: three(percentile(sorted, 99.9)),
      maxMs: three(sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] ?? Number.NaN)),
      meanMs: three(sorted.length === 0 ? Number.NaN : sum / sorted.length),
    };
  }
}

/** Runs the producer side on an open connection; resolves when set up, then works from events. */
async function runProducer(config: PersistentWorkerConfig, model: amqplib.ChannelModel, onStart: Promise<void>): Promise<Worker> {
  const channel = await model.createConfirmChannel();
  const body = Buffer.alloc(config.messageSizeBytes, 0x61);
  const publishOptions = { deliveryMode: 2 } as const;
  // Unsettled tags always lie in (settledThrough, published], fewer than `window` of them, so a
  // ring of twice the window (a power of two) never overwrites a live slot.
  let ringSize = 1;
  while (ringSize < config.window * 2) ringSize *= 2;
  const mask = ringSize - 1;
  const publishedAtMs = new Float64Array(ringSize);
  const settled = new Uint8Array(ringSize);
  const latencies = new LatencyRecorder();
  const allLatencies = config.messageLimit > 0 ? new LatencyRecorder() : undefined;
  let published = 0;
  let confirmed = 0;
  let nacked = 0;
  let settledThrough = 0;
  let writable = true;
  let running = false;
  let startedNs = '0';
  let blockedSinceMs: number | undefined;
  let blockedMs = 0;

  const counters = (): PersistentWorkerCounters => ({
    count: published,
    confirmed,
    nacked,
    blockedMs: Math.round(blockedMs + (blockedSinceMs === undefined ? 0 : performance.now() - blockedSinceMs)),
    atNs: nowNs(),
  });

  const pump = (): void => {
    const limit = config.messageLimit > 0 ? config.messageLimit : Number.POSITIVE_INFINITY;
    while (running && writable && published - settledThrough < config.window && published < limit) {
      const slot = (published + 1) & mask;
      publishedAtMs[slot] = performance.now();
      settled[slot] = 0;
      writable = channel.sendToQueue(config.queue, body, publishOptions);
      published++;
    }
  };

  const settle = (tag: number, ack: boolean, nowMs: number): void => {
    const slot = tag & mask;
    if (tag <= settledThrough || tag > published || settled[slot] === 1) return;
    settled[slot] = 1;
    if (ack) {
      confirmed++;
      const latencyMs = nowMs - (publishedAtMs[slot] ?? nowMs);
      latencies.add(latencyMs);
      allLatencies?.add(latencyMs);
    } else {
      nacked++;
    }
  };

  const onConfirm = (ack: boolean, fields: { deliveryTag: number; multiple: boolean }): void => {
    const nowMs = performance.now();
    if (fields.multiple) {
      for (let tag = settledThrough + 1; tag <= fields.deliveryTag; tag++) settle(tag, ack, nowMs);
    } else {
      settle(fields.deliveryTag, ack, nowMs);
    }
    while (settledThrough < published && settled[(settledThrough + 1) & mask] === 1) settledThrough++;
    if (config.messageLimit > 0 && settledThrough >= config.messageLimit && running) {
      running = false;
      send({ type: 'done', startedNs, ...counters(), ...(allLatencies ? { latency: allLatencies.summary(false) } : {}) });
      return;
    }
    pump();
  };

  channel.on('ack', (fields: { deliveryTag: number; multiple: boolean }) => onConfirm(true, fields));
  channel.on('nack', (fields: { deliveryTag: number; multiple: boolean }) => onConfirm(false, fields));
  channel.on('drain', () => {
    writable = true;
    pump();
  });
  model.on('blocked', () => {
    blockedSinceMs ??= performance.now();
  });
  model.on('unblocked', () => {
    if (blockedSinceMs !== undefined) blockedMs += performance.now() - blockedSinceMs;
    blockedSinceMs = undefined;
  });

  void onStart.then(() => {
    running = true;
    startedNs = nowNs();
    pump();
  });
  return {
    mark: (latency) => ({ ...counters(), ...(latency ? { latency: latencies.summary(true) } : {}) }),
    halt: () => {
      running = false;
    },
  };
}

/** Runs the consumer side on an open connection. */
async function runConsumer(config: PersistentWorkerConfig, model: amqplib.ChannelModel, onStart: Promise<void>): Promise<Worker> {
  const channel = await model.createChannel();
  await channel.prefetch(config.prefetch);
  let consumed = 0;
  let unacked = 0;
  let startedNs = '0';
  const counters = (): PersistentWorkerCounters => ({ count: consumed, confirmed: 0, nacked: 0, blockedMs: 0, atNs: nowNs() });
  const onMessage = (message: ConsumeMessage | null): void => {
    if (message === null) return;
    consumed++;
    const last = consumed === config.messageLimit;
    if (++unacked >= config.ackEvery || last) {
      unacked = 0;
      channel.ack(message, true);
    }
    if (last) send({ type: 'done', startedNs, ...counters() });
  };
  void onStart.then(async () => {
    startedNs = nowNs();
    await channel.consume(config.queue, onMessage, { noAck: false });
  }).catch(fail);
  return { mark: () => counters(), halt: () => undefined };
}

/** What the message loop needs from either role. */
interface Worker {
  mark(latency: boolean): PersistentWorkerCounters & { latency?: ConfirmLatencySummary };
  halt(): void;
}

function fail(error: unknown): void {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as PersistentWorkerConfig;
  const model = await amqplib.connect(config.url);
  model.on('error', () => undefined);
  let start: () => void = () => undefined;
  const onStart = new Promise<void>((resolve) => {
    start = resolve;
  });
  const worker = config.role === 'producer' ? await runProducer(config, model, onStart) : await runConsumer(config, model, onStart);

  // If the parent benchmark dies, so do we.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: ToPersistentWorker) => {
    switch (message.type) {
      case 'start':
        start();
        break;
      case 'mark':
        send({ type: 'mark', ...worker.mark(message.latency) });
        break;
      case 'stop':
        worker.halt();
        // A broker that stopped reading must not hold us: close if we can, leave regardless.
        setTimeout(() => process.exit(0), 3000);
        model.close().then(
          () => process.exit(0),
          () => process.exit(0),
        );
        break;
    }
  });
  send({ type: 'ready' });
}

main().catch(fail);
