// `npm run bench -- [options]`: starts each broker in turn as its own process, runs the throughput,
// latency, persistent and (on request) backlog benchmarks against it with the same client library,
// prints one JSON line per measurement (also appended to .bench/results-<timestamp>.jsonl) and a
// Warren/RabbitMQ table.
import { appendFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runBacklog, type BacklogResult } from './backlog.js';
import { featureKinds, runFeatures, type FeatureKind, type FeaturesResult } from './features.js';
import { clientNames, type ClientName } from './clients.js';
import { median, mebibytes, round, waitForQuietMachine, type BrokerHandle, type BrokerName } from './common.js';
import { runLatency, type LatencyResult } from './latency.js';
import { runPersistent, type PersistentResult } from './persistent.js';
import { isRabbitmqInstalled, rabbitmqServerInstalledPath, startRabbitmq } from './rabbitmq.js';
import { runThroughput, type AckMode, type ThroughputResult } from './throughput.js';
import { WarrenNotRunnableError, startWarren } from './warren.js';

const usage = `Usage: npm run bench -- [options]

  --broker warren|rabbitmq|both   brokers to measure (default: both when ${rabbitmqServerInstalledPath}
                                  exists, otherwise warren)
  --bench NAME[,NAME...]          throughput, latency, persistent, backlog, features or all (default: all =
                                  throughput, latency and persistent; backlog is long, ask for it)
  --seconds N                     measurement window per benchmark, seconds (default: 10)
  --warmup N                      unmeasured run-in before each window, seconds (default: 2)
  --rate R                        latency benchmark publish rate, messages/s (default: 1000)
  --client amqplib|amqp-client    client library for every connection (default: amqplib)
  --ack multiple|none             throughput consumer: manual basic.ack(multiple) every --ack-every
                                  deliveries, or no-ack (default: multiple); latency consumer acks
                                  each delivery, or no-ack with "none"
  --prefetch N                    consumer prefetch count (default: 1000)
  --ack-every N                   throughput, persistent and backlog consumers ack once per N
                                  deliveries (default: 100); persistent and backlog always use
                                  manual acks, whatever --ack says
  --size BYTES                    message body size (default: 16 for throughput and latency, 100
                                  for persistent and backlog)
  --window N                      persistent and backlog producer: most unconfirmed publishes
                                  (default: 1000)
  --messages N                    backlog: persistent messages to publish, then drain
                                  (default: 2000000)
  --repeat N                      run each benchmark N times per broker; the table shows medians
                                  (default: 1; use 3 or more on a machine shared with other work)
  --wait-for-idle SECONDS         before each measurement, wait up to this long for the machine to be
                                  idle (< 25% of one core busy); for shared machines (default: 0)
  --skip-build                    do not rebuild Warren's dist/ before starting it
  --help                          this text
`;

/** Benchmarks `--bench` can name. */
const benchNames = ['throughput', 'latency', 'persistent', 'backlog', 'features'] as const;
type BenchName = (typeof benchNames)[number];
/** What `--bench all` (the default) runs: everything but the long backlog benchmark. */
const benchesInAll: readonly BenchName[] = ['throughput', 'latency', 'persistent'];

interface RunOptions {
  readonly brokers: readonly BrokerName[];
  readonly benches: readonly BenchName[];
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly ratePerSecond: number;
  readonly client: ClientName;
  readonly ack: AckMode;
  readonly prefetch: number;
  readonly ackEvery: number;
  /** Undefined when --size was not given: each benchmark then uses its own default. */
  readonly messageSizeBytes: number | undefined;
  readonly window: number;
  readonly messages: number;
  readonly repeat: number;
  readonly waitForIdleSeconds: number;
  readonly skipBuild: boolean;
}

function positiveNumber(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number, got "${value}"`);
  return parsed;
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new Error(`--${name} must be one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value as T;
}

function parseOptions(argv: string[]): RunOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      broker: { type: 'string' },
      bench: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      rate: { type: 'string' },
      client: { type: 'string' },
      ack: { type: 'string' },
      prefetch: { type: 'string' },
      'ack-every': { type: 'string' },
      size: { type: 'string' },
      window: { type: 'string' },
      messages: { type: 'string' },
      repeat: { type: 'string' },
      'wait-for-idle': { type: 'string' },
      'skip-build': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(usage);
    return undefined;
  }
  const defaultBroker = isRabbitmqInstalled() ? 'both' : 'warren';
  if (defaultBroker === 'warren' && values.broker === undefined) {
    note(`note: RabbitMQ is not installed (${rabbitmqServerInstalledPath}), so only Warren is measured.`);
  }
  const broker = oneOf('broker', values.broker, ['warren', 'rabbitmq', 'both'] as const, defaultBroker);
  const benches = new Set<BenchName>();
  for (const name of (values.bench ?? 'all').split(',')) {
    const bench = oneOf('bench', name.trim(), [...benchNames, 'all'] as const, 'all');
    for (const each of bench === 'all' ? benchesInAll : [bench]) benches.add(each);
  }
  return {
    brokers: broker === 'both' ? ['warren', 'rabbitmq'] : [broker],
    benches: benchNames.filter((name) => benches.has(name)),
    seconds: positiveNumber('seconds', values.seconds, 10),
    warmupSeconds: values.warmup === '0' ? 0 : positiveNumber('warmup', values.warmup, 2),
    ratePerSecond: positiveNumber('rate', values.rate, 1000),
    client: oneOf('client', values.client, clientNames, 'amqplib'),
    ack: oneOf('ack', values.ack, ['multiple', 'none'] as const, 'multiple'),
    prefetch: Math.min(65535, Math.round(positiveNumber('prefetch', values.prefetch, 1000))),
    ackEvery: Math.round(positiveNumber('ack-every', values['ack-every'], 100)),
    messageSizeBytes: values.size === undefined ? undefined : Math.round(positiveNumber('size', values.size, 16)),
    window: Math.round(positiveNumber('window', values.window, 1000)),
    messages: Math.round(positiveNumber('messages', values.messages, 2_000_000)),
    repeat: Math.round(positiveNumber('repeat', values.repeat, 1)),
    waitForIdleSeconds: values['wait-for-idle'] === '0' ? 0 : positiveNumber('wait-for-idle', values['wait-for-idle'], 0),
    skipBuild: values['skip-build'] === true,
  };
}

function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function waitForIdle(options: RunOptions): Promise<void> {
  if (options.waitForIdleSeconds <= 0) return;
  const busyPercent = await waitForQuietMachine(options.waitForIdleSeconds);
  if (busyPercent >= 25) note(`  machine still ${busyPercent}% busy after ${options.waitForIdleSeconds} s; measuring anyway`);
}

function warnIfNoisy(otherProcessesCpuPercent: number): void {
  if (otherProcessesCpuPercent >= 20) {
    note(`  warning: processes outside the benchmark used ${otherProcessesCpuPercent}% CPU during this run; figures are noisy`);
  }
}

/** Idle memory of a freshly started broker, measured before any benchmark touches it. */
interface MemoryResult {
  readonly bench: 'memory';
  readonly broker: string;
  readonly brokerVersion: string;
  readonly idleRssBytes: number;
  readonly idleRssMiB: number;
}

type Result =
  | (ThroughputResult & { run?: number })
  | (LatencyResult & { run?: number })
  | (PersistentResult & { run?: number })
  | (BacklogResult & { run?: number })
  | (FeaturesResult & { run?: number })
  | MemoryResult;

class ResultWriter {
  readonly path: string;
  readonly results: Result[] = [];

  constructor(private readonly meta: Record<string, unknown>) {
    const directory = join(fileURLToPath(new URL('..', import.meta.url)), '.bench');
    mkdirSync(directory, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    this.path = join(directory, `results-${stamp}.jsonl`);
    this.writeLine({ bench: 'meta', ...meta });
  }

  write(result: Result): void {
    this.results.push(result);
    this.writeLine({ ...result, date: this.meta['date'] });
  }

  private writeLine(record: Record<string, unknown>): void {
    const line = JSON.stringify(record);
    process.stdout.write(`${line}\n`);
    appendFileSync(this.path, `${line}\n`);
  }
}

async function startBroker(name: BrokerName, options: RunOptions): Promise<BrokerHandle> {
  note(`starting ${name} ...`);
  return name === 'rabbitmq' ? startRabbitmq() : startWarren({ skipBuild: options.skipBuild, log: note });
}

async function measureBroker(name: BrokerName, options: RunOptions, writer: ResultWriter): Promise<void> {
  const broker = await startBroker(name, options);
  try {
    // Let start-up work settle before calling the memory "idle".
    await sleep(2000);
    const idleRssBytes = broker.memoryRssBytes();
    writer.write({
      bench: 'memory',
      broker: name,
      brokerVersion: broker.version,
      idleRssBytes,
      idleRssMiB: mebibytes(idleRssBytes),
    });
    for (let run = 1; run <= options.repeat && options.benches.includes('throughput'); run++) {
      await waitForIdle(options);
      note(`${name}: throughput run ${run}/${options.repeat}, ${options.warmupSeconds} s warmup + ${options.seconds} s ...`);
      const result = await runThroughput(broker, { ...options, messageSizeBytes: options.messageSizeBytes ?? 16 });
      writer.write({ ...result, run });
      warnIfNoisy(result.otherProcessesCpuPercent);
      // Give the broker a moment to free the previous queue before the next measurement.
      await sleep(1000);
    }
    for (let run = 1; run <= options.repeat && options.benches.includes('latency'); run++) {
      await waitForIdle(options);
      note(`${name}: latency run ${run}/${options.repeat} at ${options.ratePerSecond} msg/s, ${options.warmupSeconds} s warmup + ${options.seconds} s ...`);
      const result = await runLatency(broker, { ...options, messageSizeBytes: options.messageSizeBytes ?? 16 });
      writer.write({ ...result, run });
      warnIfNoisy(result.otherProcessesCpuPercent);
    }
    const persistentOptions = { ...options, messageSizeBytes: options.messageSizeBytes ?? 100 };
    for (let run = 1; run <= options.repeat && options.benches.includes('persistent'); run++) {
      await waitForIdle(options);
      note(`${name}: persistent run ${run}/${options.repeat}, window ${options.window}, ${options.warmupSeconds} s warmup + ${options.seconds} s ...`);
      const result = await runPersistent(broker, persistentOptions);
      writer.write({ ...result, run });
      warnIfNoisy(result.otherProcessesCpuPercent);
      await sleep(1000);
    }
    for (let run = 1; run <= options.repeat && options.benches.includes('features'); run++) {
      await waitForIdle(options);
      const messages = Math.min(options.messages, 100_000);
      note(`${name}: features run ${run}/${options.repeat}, ${messages} messages per queue kind ...`);
      for (const result of await runFeatures(broker, { ...options, messages, messageSizeBytes: options.messageSizeBytes ?? 16 })) writer.write({ ...result, run });
      await sleep(1000);
    }
    for (let run = 1; run <= options.repeat && options.benches.includes('backlog'); run++) {
      await waitForIdle(options);
      note(`${name}: backlog run ${run}/${options.repeat}, ${options.messages} messages of ${persistentOptions.messageSizeBytes} bytes ...`);
      const result = await runBacklog(broker, { ...persistentOptions, log: note });
      writer.write({ ...result, run });
      warnIfNoisy(result.otherProcessesCpuPercent);
      await sleep(1000);
    }
  } finally {
    note(`stopping ${name} ...`);
    await broker.stop();
  }
}

/** Median of one figure over every result of `bench` for `broker` (several with --repeat). */
function medianOf<T extends Result['bench']>(
  results: Result[],
  bench: T,
  broker: BrokerName,
  figure: (result: Extract<Result, { bench: T }>) => number,
): number | undefined {
  return median(results.filter((result): result is Extract<Result, { bench: T }> => result.bench === bench && result.broker === broker).map(figure));
}

/** Median of one figure of the features benchmark for one queue kind. */
function featureMedian(results: Result[], broker: BrokerName, kind: FeatureKind, figure: (result: FeaturesResult) => number): number | undefined {
  return medianOf(results.filter((result) => result.bench !== 'features' || result.kind === kind), 'features', broker, figure);
}

/** Prints the Warren vs RabbitMQ table (medians); a ratio column appears when both were measured. */
function printComparison(results: Result[], brokers: readonly BrokerName[]): void {
  const rows: { metric: string; better: 'higher' | 'lower' | 'none'; value: (broker: BrokerName) => number | undefined }[] = [
    { metric: 'throughput end-to-end (consumed) msg/s', better: 'higher', value: (b) => medianOf(results, 'throughput', b, (r) => r.consumedPerSecond) },
    { metric: 'throughput published msg/s', better: 'higher', value: (b) => medianOf(results, 'throughput', b, (r) => r.publishedPerSecond) },
    { metric: 'throughput broker CPU %', better: 'lower', value: (b) => medianOf(results, 'throughput', b, (r) => r.brokerCpuPercent) },
    { metric: 'throughput broker RSS peak MiB', better: 'lower', value: (b) => medianOf(results, 'throughput', b, (r) => r.brokerRssMiBPeak) },
    { metric: 'latency p50 ms', better: 'lower', value: (b) => medianOf(results, 'latency', b, (r) => r.p50Ms) },
    { metric: 'latency p90 ms', better: 'lower', value: (b) => medianOf(results, 'latency', b, (r) => r.p90Ms) },
    { metric: 'latency p99 ms', better: 'lower', value: (b) => medianOf(results, 'latency', b, (r) => r.p99Ms) },
    { metric: 'latency p99.9 ms', better: 'lower', value: (b) => medianOf(results, 'latency', b, (r) => r.p999Ms) },
    { metric: 'latency max ms', better: 'lower', value: (b) => medianOf(results, 'latency', b, (r) => r.maxMs) },
    { metric: 'latency broker CPU %', better: 'lower', value: (b) => medianOf(results, 'latency', b, (r) => r.brokerCpuPercent) },
    { metric: 'persistent consumed msg/s', better: 'higher', value: (b) => medianOf(results, 'persistent', b, (r) => r.consumedPerSecond) },
    { metric: 'persistent confirmed msg/s', better: 'higher', value: (b) => medianOf(results, 'persistent', b, (r) => r.confirmedPerSecond) },
    { metric: 'persistent published msg/s', better: 'higher', value: (b) => medianOf(results, 'persistent', b, (r) => r.publishedPerSecond) },
    { metric: 'persistent confirm p50 ms', better: 'lower', value: (b) => medianOf(results, 'persistent', b, (r) => r.confirmP50Ms) },
    { metric: 'persistent confirm p99 ms', better: 'lower', value: (b) => medianOf(results, 'persistent', b, (r) => r.confirmP99Ms) },
    { metric: 'persistent broker CPU %', better: 'lower', value: (b) => medianOf(results, 'persistent', b, (r) => r.brokerCpuPercent) },
    { metric: 'persistent broker disk writes MiB/s', better: 'none', value: (b) => medianOf(results, 'persistent', b, (r) => r.brokerDiskWriteMiBPerSecond) },
    { metric: 'persistent broker RSS peak MiB', better: 'lower', value: (b) => medianOf(results, 'persistent', b, (r) => r.brokerRssMiBPeak) },
    { metric: 'backlog publish msg/s', better: 'higher', value: (b) => medianOf(results, 'backlog', b, (r) => r.publishPerSecond) },
    { metric: 'backlog drain msg/s', better: 'higher', value: (b) => medianOf(results, 'backlog', b, (r) => r.drainPerSecond) },
    { metric: 'backlog total s', better: 'lower', value: (b) => medianOf(results, 'backlog', b, (r) => r.totalSeconds) },
    ...featureKinds.flatMap((kind) => [
      { metric: `features ${kind} publish msg/s`, better: 'higher' as const, value: (b: BrokerName) => featureMedian(results, b, kind, (r) => r.publishPerSecond) },
      { metric: `features ${kind} drain msg/s`, better: 'higher' as const, value: (b: BrokerName) => featureMedian(results, b, kind, (r) => r.drainPerSecond) },
    ]),
    { metric: 'backlog broker RSS peak MiB', better: 'lower', value: (b) => medianOf(results, 'backlog', b, (r) => r.brokerRssMiBPeak) },
    { metric: 'backlog broker RSS full queue MiB', better: 'lower', value: (b) => medianOf(results, 'backlog', b, (r) => r.brokerRssMiBFullQueue) },
    { metric: 'backlog confirm p99 ms', better: 'lower', value: (b) => medianOf(results, 'backlog', b, (r) => r.confirmP99Ms) },
    { metric: 'backlog publish broker CPU %', better: 'lower', value: (b) => medianOf(results, 'backlog', b, (r) => r.publishBrokerCpuPercent) },
    { metric: 'backlog drain broker CPU %', better: 'lower', value: (b) => medianOf(results, 'backlog', b, (r) => r.drainBrokerCpuPercent) },
    { metric: 'throughput CPU % of other processes', better: 'none', value: (b) => medianOf(results, 'throughput', b, (r) => r.otherProcessesCpuPercent) },
    { metric: 'latency CPU % of other processes', better: 'none', value: (b) => medianOf(results, 'latency', b, (r) => r.otherProcessesCpuPercent) },
    { metric: 'persistent CPU % of other processes', better: 'none', value: (b) => medianOf(results, 'persistent', b, (r) => r.otherProcessesCpuPercent) },
    { metric: 'backlog CPU % of other processes', better: 'none', value: (b) => medianOf(results, 'backlog', b, (r) => r.otherProcessesCpuPercent) },
    { metric: 'idle broker RSS MiB', better: 'lower', value: (b) => medianOf(results, 'memory', b, (r) => r.idleRssMiB) },
  ];
  const both = brokers.includes('warren') && brokers.includes('rabbitmq');
  const header = ['metric', ...brokers, ...(both ? ['warren/rabbitmq'] : [])];
  const table: string[][] = [header];
  for (const row of rows) {
    const values = brokers.map((broker) => row.value(broker));
    if (values.every((value) => value === undefined)) continue;
    const cells = [row.metric, ...values.map((value) => (value === undefined ? '-' : String(value)))];
    if (both) {
      const warren = row.value('warren');
      const rabbitmq = row.value('rabbitmq');
      cells.push(
        row.better === 'none' || warren === undefined || rabbitmq === undefined || rabbitmq === 0
          ? '-'
          : `${round(warren / rabbitmq, 2)}x (${row.better} is better)`,
      );
    }
    table.push(cells);
  }
  const widths = header.map((_, column) => Math.max(...table.map((cells) => (cells[column] ?? '').length)));
  const lines = table.map((cells) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  '));
  process.stdout.write(`\n${lines[0] ?? ''}\n${widths.map((width) => '-'.repeat(width)).join('  ')}\n`);
  process.stdout.write(`${lines.slice(1).join('\n')}\n`);
}

async function main(): Promise<number> {
  let options: RunOptions | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    note(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (options === undefined) return 0;

  const writer = new ResultWriter({
    date: new Date().toISOString(),
    node: process.version,
    cpuCount: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    totalMemoryBytes: totalmem(),
    options,
  });
  let failed = false;
  for (const broker of options.brokers) {
    try {
      await measureBroker(broker, options, writer);
    } catch (error) {
      failed = true;
      if (error instanceof WarrenNotRunnableError) note(`\n${error.message}\n`);
      else note(`\n${broker} benchmark failed: ${(error as Error).stack ?? String(error)}\n`);
    }
  }
  if (writer.results.length > 0) printComparison(writer.results, options.brokers);
  note(`\nresults: ${writer.path}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    note(String((error as Error).stack ?? error));
    process.exit(1);
  },
);
