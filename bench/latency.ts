// Latency benchmark: publish at a fixed rate on one connection, consume on another connection in
// the same process, and measure publish-to-delivery time from a process.hrtime.bigint() stamp in
// each body. Same process means one clock, so no cross-process clock skew. Reports percentiles of
// the measurement window only (after a warmup).
import { setTimeout as sleep } from 'node:timers/promises';
import { openConnection, type ClientName } from './clients.js';
import { RssSampler, percentile, round, mebibytes, systemCpuSample, type BrokerHandle, type SystemCpuSample } from './common.js';

/** Settings for one latency run. */
export interface LatencyOptions {
  /** Client library for both connections. */
  readonly client: ClientName;
  /** Target publish rate, messages per second. */
  readonly ratePerSecond: number;
  /** Measurement window, in seconds. */
  readonly seconds: number;
  /** Unmeasured run-in before the window, in seconds. */
  readonly warmupSeconds: number;
  /** Message body size, in bytes (at least 16: an 8-byte timestamp and an 8-byte sequence). */
  readonly messageSizeBytes: number;
  /** Consumer acks each delivery individually (`multiple`, the throughput default, acks each here) or uses no-ack (`none`). */
  readonly ack: 'multiple' | 'none';
  /** Consumer prefetch count. */
  readonly prefetch: number;
}

/** One latency measurement, as written to the JSON lines output. */
export interface LatencyResult {
  readonly bench: 'latency';
  readonly broker: string;
  readonly brokerVersion: string;
  readonly client: ClientName;
  readonly ack: 'each' | 'none';
  readonly messageSizeBytes: number;
  readonly seconds: number;
  readonly targetRatePerSecond: number;
  readonly achievedRatePerSecond: number;
  readonly samples: number;
  /** Messages published in the window that never arrived within 5 s after it. */
  readonly lost: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly brokerCpuPercent: number;
  /** CPU used by processes outside the benchmark during the window: noise from other work. */
  readonly otherProcessesCpuPercent: number;
  readonly brokerRssBytesPeak: number;
  readonly brokerRssMiBPeak: number;
}

/** Runs one latency measurement against `broker`. */
export async function runLatency(broker: BrokerHandle, options: LatencyOptions): Promise<LatencyResult> {
  const messageSizeBytes = Math.max(16, options.messageSizeBytes);
  const queue = `warren-bench-latency-${process.pid}-${Date.now()}`;
  const publisher = await openConnection(options.client, broker.url);
  const subscriber = await openConnection(options.client, broker.url);
  const rss = new RssSampler(broker);
  try {
    await publisher.declareQueue(queue);

    const warmupNs = BigInt(Math.round(options.warmupSeconds * 1e9));
    const windowNs = BigInt(Math.round(options.seconds * 1e9));
    const expected = Math.ceil(options.ratePerSecond * options.seconds * 1.1) + 1000;
    const latenciesMs = new Float64Array(expected);
    let samples = 0;
    let windowStartNs = 0n;
    let windowEndNs = 0n;

    await subscriber.consume(
      queue,
      { noAck: options.ack === 'none', prefetch: options.prefetch, ackEvery: 1 },
      (body) => {
        const receivedNs = process.hrtime.bigint();
        const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
        const sentNs = view.getBigUint64(0);
        if (sentNs >= windowStartNs && sentNs < windowEndNs && samples < latenciesMs.length) {
          latenciesMs[samples++] = Number(receivedNs - sentNs) / 1e6;
        }
      },
    );

    // Pace by a deficit: every timer tick, publish however many messages the target rate says
    // should have gone out by now. Each body carries its actual send time, so late sends (timer
    // jitter, back-pressure) show up as throughput shortfall rather than hidden latency.
    const body = Buffer.alloc(messageSizeBytes, 0x61);
    const startNs = process.hrtime.bigint();
    windowStartNs = startNs + warmupNs;
    windowEndNs = windowStartNs + windowNs;
    let sent = 0;
    let sentInWindow = 0;
    let cpuAtWindowStartMs: number | undefined;
    let cpuWindowStartNs = 0n;
    let machineAtWindowStart: SystemCpuSample = { busyMs: 0, interruptMs: 0 };
    let runnerAtWindowStart = process.cpuUsage();
    for (;;) {
      const nowNs = process.hrtime.bigint();
      if (nowNs >= windowEndNs) break;
      if (cpuAtWindowStartMs === undefined && nowNs >= windowStartNs) {
        cpuAtWindowStartMs = broker.cpuTimeMs();
        cpuWindowStartNs = nowNs;
        machineAtWindowStart = systemCpuSample();
        runnerAtWindowStart = process.cpuUsage();
      }
      const due = Math.floor((Number(nowNs - startNs) / 1e9) * options.ratePerSecond);
      while (sent < due) {
        const stampNs = process.hrtime.bigint();
        body.writeBigUInt64BE(stampNs, 0);
        body.writeBigUInt64BE(BigInt(sent), 8);
        const writable = publisher.publish(queue, body);
        sent++;
        if (stampNs >= windowStartNs) sentInWindow++;
        if (!writable) await publisher.waitWritable();
      }
      await sleep(1);
    }
    const brokerCpuMs = broker.cpuTimeMs() - (cpuAtWindowStartMs ?? 0);
    const machine = systemCpuSample();
    const runner = process.cpuUsage(runnerAtWindowStart);
    const cpuWindowMs = Number(process.hrtime.bigint() - cpuWindowStartNs) / 1e6;
    // Whatever the machine did beyond the broker, this process and interrupts was other people's work.
    const otherCpuMs =
      machine.busyMs -
      machineAtWindowStart.busyMs -
      brokerCpuMs -
      (runner.user + runner.system) / 1000 -
      (machine.interruptMs - machineAtWindowStart.interruptMs);

    // Let the tail of the window arrive, up to 5 s.
    const drainDeadline = Date.now() + 5000;
    while (samples < sentInWindow && Date.now() < drainDeadline) await sleep(10);

    const sorted = latenciesMs.slice(0, samples).sort();
    const mean = samples === 0 ? Number.NaN : sorted.reduce((sum, value) => sum + value, 0) / samples;
    const brokerRssBytesPeak = rss.stop();
    return {
      bench: 'latency',
      broker: broker.name,
      brokerVersion: broker.version,
      client: options.client,
      ack: options.ack === 'none' ? 'none' : 'each',
      messageSizeBytes,
      seconds: options.seconds,
      targetRatePerSecond: options.ratePerSecond,
      achievedRatePerSecond: Math.round(sentInWindow / options.seconds),
      samples,
      lost: Math.max(0, sentInWindow - samples),
      p50Ms: round(percentile(sorted, 50), 3),
      p90Ms: round(percentile(sorted, 90), 3),
      p99Ms: round(percentile(sorted, 99), 3),
      p999Ms: round(percentile(sorted, 99.9), 3),
      maxMs: round(percentile(sorted, 100), 3),
      meanMs: round(mean, 3),
      brokerCpuPercent: round((brokerCpuMs / cpuWindowMs) * 100, 1),
      otherProcessesCpuPercent: round(Math.max(0, (otherCpuMs / cpuWindowMs) * 100), 1),
      brokerRssBytesPeak,
      brokerRssMiBPeak: mebibytes(brokerRssBytesPeak),
    };
  } finally {
    rss.stop();
    await publisher.deleteQueue(queue).catch(() => undefined);
    await subscriber.close().catch(() => undefined);
    await publisher.close().catch(() => undefined);
  }
}
