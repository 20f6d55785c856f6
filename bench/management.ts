// `npm run bench:management -- [options]`: how responsive the management HTTP API stays on a busy
// node (issue 7: p99 under 100 ms for /api/queues?page=1&page_size=100 with 10,000 queues and 1,000
// connections). Starts each broker in turn as its own process (RabbitMQ with rabbitmq_management
// enabled offline from the installed package), declares the queues over AMQP, opens the connections
// (one channel and one consumer each), publishes a few messages, then times list requests: sequential,
// and from several concurrent HTTP clients. Prints a table and appends JSON lines to
// .bench/management-<timestamp>.jsonl.
import { appendFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import amqplib from 'amqplib';
import { mebibytes, percentile, round, RssSampler, systemCpuSample, type BrokerHandle, type BrokerName } from './common.js';
import { isRabbitmqInstalled, startRabbitmq } from './rabbitmq.js';
import { startWarren } from './warren.js';

const usage = `Usage: npm run bench:management -- [options]

  --broker warren|rabbitmq|both   brokers to measure (default: both when rabbitmq-server is installed)
  --queues N                      queues declared before measuring (default: 10000)
  --connections N                 AMQP connections held open, each with a channel and a consumer (default: 1000)
  --requests N                    timed requests per endpoint and mode (default: 500)
  --concurrency N                 HTTP clients in the concurrent run of /api/queues (default: 4)
  --settle SECONDS                pause between set-up and measuring, so stats are current (default: 6)
  --skip-build                    do not rebuild Warren's dist/ before starting it
  --help                          this text

Profile Warren with WARREN_BENCH_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof".
`;

const { values } = parseArgs({
  options: {
    broker: { type: 'string' },
    queues: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '1000' },
    requests: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '4' },
    settle: { type: 'string', default: '6' },
    'skip-build': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}

function count(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer, got "${text}"`);
  return value;
}

const options = {
  queues: count('queues', values.queues),
  connections: count('connections', values.connections),
  requests: Math.max(1, count('requests', values.requests)),
  concurrency: Math.max(1, count('concurrency', values.concurrency)),
  settleSeconds: count('settle', values.settle),
  skipBuild: values['skip-build'],
};
const defaultBroker = isRabbitmqInstalled() ? 'both' : 'warren';
const brokerOption = values.broker ?? defaultBroker;
if (!['warren', 'rabbitmq', 'both'].includes(brokerOption)) throw new Error(`--broker must be warren, rabbitmq or both, got "${brokerOption}"`);
const brokers: BrokerName[] = brokerOption === 'both' ? ['warren', 'rabbitmq'] : [brokerOption as BrokerName];

const note = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const authorization = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
/** Messages published to each of the queues that get some (every tenth queue). */
const MESSAGES_PER_QUEUE = 5;
const MESSAGE = Buffer.alloc(100, 120);

/** The endpoints timed; the first is the one issue 7's target is about. */
const endpoints = [
  { label: 'queues page', path: '/api/queues?page=1&page_size=100', concurrent: true },
  { label: 'overview', path: '/api/overview', concurrent: false },
  { label: 'connections page', path: '/api/connections?page=1&page_size=100', concurrent: false },
] as const;

interface ManagementResult {
  readonly bench: 'management';
  readonly broker: BrokerName;
  readonly brokerVersion: string;
  readonly endpoint: string;
  readonly clients: number;
  readonly requests: number;
  readonly queues: number;
  readonly connections: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly requestsPerSecond: number;
  readonly responseBytes: number;
  readonly brokerCpuPercent: number;
  /** This process: the HTTP clients, and the idle AMQP connections it holds. */
  readonly clientCpuPercent: number;
  /** Machine-wide busy CPU minus broker and client: other people's work on a shared machine. */
  readonly otherProcessesCpuPercent: number;
  readonly brokerRssMiB: number;
}

interface SetupResult {
  readonly bench: 'management-setup';
  readonly broker: BrokerName;
  readonly brokerVersion: string;
  readonly queues: number;
  readonly connections: number;
  readonly declareSeconds: number;
  readonly connectSeconds: number;
  readonly idleRssMiB: number;
  readonly loadedRssMiB: number;
  readonly brokerRssMiBPeak?: number;
}

const directory = join(fileURLToPath(new URL('..', import.meta.url)), '.bench');
mkdirSync(directory, { recursive: true });
const outputPath = join(directory, `management-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
const date = new Date().toISOString();
const results: (ManagementResult | SetupResult)[] = [];
function record(result: ManagementResult | SetupResult): void {
  results.push(result);
  const line = JSON.stringify({ ...result, date });
  process.stdout.write(`${line}\n`);
  appendFileSync(outputPath, `${line}\n`);
}
appendFileSync(outputPath, `${JSON.stringify({ bench: 'meta', date, node: process.version, cpuCount: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', options, brokers })}\n`);

/** One GET, body read to the end; returns the elapsed milliseconds and the body. */
async function timedGet(base: string, path: string): Promise<{ ms: number; body: string }> {
  const started = process.hrtime.bigint();
  const response = await fetch(`${base}${path}`, { headers: { authorization } });
  const body = await response.text();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status}: ${body.slice(0, 300)}`);
  return { ms, body };
}

async function waitForHttp(base: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      await timedGet(base, '/api/overview');
      return;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(500);
  }
  throw new Error(`management API at ${base} did not answer within ${timeoutMs} ms: ${last}`);
}

const queueName = (index: number): string => `mgmt-bench-${String(index).padStart(6, '0')}`;

/** Declares the queues over AMQP on four channels, many declares in flight on each. */
async function declareQueues(url: string): Promise<void> {
  const connection = await amqplib.connect(url);
  try {
    const channels = await Promise.all([0, 1, 2, 3].map(() => connection.createChannel()));
    const batch = 250;
    for (let start = 0; start < options.queues; start += batch * channels.length) {
      const declares: Promise<unknown>[] = [];
      for (let index = start; index < Math.min(options.queues, start + batch * channels.length); index++) {
        const channel = channels[index % channels.length];
        if (channel !== undefined) declares.push(channel.assertQueue(queueName(index), { durable: false, autoDelete: false }));
      }
      await Promise.all(declares);
    }
    // A few messages in every tenth queue, so the views have counts and bytes to report.
    const publisher = channels[0];
    if (publisher !== undefined) {
      for (let index = 5; index < options.queues; index += 10) {
        for (let message = 0; message < MESSAGES_PER_QUEUE; message++) {
          if (!publisher.sendToQueue(queueName(index), MESSAGE)) await new Promise((resolve) => publisher.once('drain', resolve));
        }
      }
      // A round trip after the publishes, so they have all been taken in.
      await publisher.checkQueue(queueName(5 % Math.max(1, options.queues)));
    }
  } finally {
    await connection.close();
  }
}

type HeldConnection = Awaited<ReturnType<typeof amqplib.connect>>;

/** Opens the connections, each with a channel consuming one of the queues (no messages there). */
async function openConnections(url: string): Promise<HeldConnection[]> {
  const held: HeldConnection[] = [];
  const inFlight = 25;
  for (let start = 0; start < options.connections; start += inFlight) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(inFlight, options.connections - start) }, async (_, offset) => {
        const connection = await amqplib.connect(url);
        connection.on('error', () => undefined);
        const channel = await connection.createChannel();
        await channel.prefetch(10);
        // Queues ending in 5 hold the published messages; consume from the others.
        const index = (start + offset) * 10;
        if (options.queues > 0) await channel.consume(queueName(index % options.queues), () => undefined, { noAck: false });
        return connection;
      }),
    );
    held.push(...opened);
  }
  return held;
}

async function closeConnections(held: HeldConnection[]): Promise<void> {
  for (let start = 0; start < held.length; start += 50) {
    await Promise.all(held.slice(start, start + 50).map((connection) => connection.close().catch(() => undefined)));
  }
}

/** Times `requests` GETs of `path` from `clients` concurrent clients (each sequential). */
async function measure(broker: BrokerHandle, base: string, label: string, path: string, clients: number): Promise<ManagementResult> {
  // Run-in: connections to the server, JIT, caches.
  for (let index = 0; index < 20; index++) await timedGet(base, path);
  const timings = new Float64Array(options.requests);
  let next = 0;
  let responseBytes = 0;
  const cpuBefore = broker.cpuTimeMs();
  const clientBefore = process.cpuUsage();
  const systemBefore = systemCpuSample();
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (;;) {
        const index = next++;
        if (index >= options.requests) return;
        const { ms, body } = await timedGet(base, path);
        timings[index] = ms;
        responseBytes = Buffer.byteLength(body);
      }
    }),
  );
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  const cpuMs = broker.cpuTimeMs() - cpuBefore;
  const clientUsage = process.cpuUsage(clientBefore);
  const clientMs = (clientUsage.user + clientUsage.system) / 1000;
  const systemMs = systemCpuSample().busyMs - systemBefore.busyMs;
  timings.sort();
  const sum = timings.reduce((total, value) => total + value, 0);
  return {
    bench: 'management',
    broker: broker.name,
    brokerVersion: broker.version,
    endpoint: label,
    clients,
    requests: options.requests,
    queues: options.queues,
    connections: options.connections,
    p50Ms: round(percentile(timings, 50), 1),
    p90Ms: round(percentile(timings, 90), 1),
    p99Ms: round(percentile(timings, 99), 1),
    maxMs: round(percentile(timings, 100), 1),
    meanMs: round(sum / timings.length, 1),
    requestsPerSecond: round((options.requests * 1000) / elapsedMs, 1),
    responseBytes,
    brokerCpuPercent: round((cpuMs * 100) / elapsedMs, 1),
    clientCpuPercent: round((clientMs * 100) / elapsedMs, 1),
    otherProcessesCpuPercent: round((Math.max(0, systemMs - cpuMs - clientMs) * 100) / elapsedMs, 1),
    brokerRssMiB: mebibytes(broker.memoryRssBytes()),
  };
}

/**
 * Waits until a page answer has what was asked for (RabbitMQ lists connections and queue counts from
 * stats it collects every 5 s), so a broken or lagging endpoint is not timed as a fast one.
 */
async function waitForPage(base: string, path: string, minimumTotal: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const expectedItems = Math.min(100, minimumTotal);
  for (;;) {
    const page = JSON.parse((await timedGet(base, path)).body) as { items?: unknown[]; total_count?: number };
    if (Array.isArray(page.items) && page.items.length >= expectedItems && (page.total_count ?? 0) >= minimumTotal) return;
    if (Date.now() > deadline) {
      throw new Error(`GET ${path}: expected at least ${minimumTotal} in total and ${expectedItems} items, got total_count ${page.total_count}, ${page.items?.length} items`);
    }
    await sleep(1000);
  }
}

async function measureBroker(name: BrokerName): Promise<void> {
  note(`starting ${name} ...`);
  const broker = name === 'warren'
    ? await startWarren({ skipBuild: options.skipBuild, log: note })
    : await startRabbitmq({ label: 'mgmtbench', management: true });
  let held: HeldConnection[] = [];
  try {
    const base = broker.httpUrl;
    if (base === undefined) throw new Error(`${name} has no management API URL`);
    await waitForHttp(base, 60_000);
    await sleep(2000);
    const idleRssBytes = broker.memoryRssBytes();
    const sampler = new RssSampler(broker);
    note(`${name}: declaring ${options.queues} queues and publishing ${MESSAGES_PER_QUEUE} messages to every tenth ...`);
    let mark = Date.now();
    await declareQueues(broker.url);
    const declareSeconds = (Date.now() - mark) / 1000;
    note(`${name}: opening ${options.connections} connections ...`);
    mark = Date.now();
    held = await openConnections(broker.url);
    const connectSeconds = (Date.now() - mark) / 1000;
    note(`${name}: ${declareSeconds.toFixed(1)} s to declare, ${connectSeconds.toFixed(1)} s to connect; settling ${options.settleSeconds} s ...`);
    await sleep(options.settleSeconds * 1000);
    await waitForPage(base, '/api/queues?page=1&page_size=100', options.queues);
    await waitForPage(base, '/api/connections?page=1&page_size=100', options.connections);
    const loadedRssBytes = broker.memoryRssBytes();
    for (const endpoint of endpoints) {
      note(`${name}: ${options.requests} x GET ${endpoint.path}, 1 client ...`);
      record(await measure(broker, base, endpoint.label, endpoint.path, 1));
      if (endpoint.concurrent && options.concurrency > 1) {
        note(`${name}: ${options.requests} x GET ${endpoint.path}, ${options.concurrency} clients ...`);
        record(await measure(broker, base, endpoint.label, endpoint.path, options.concurrency));
      }
    }
    record({
      bench: 'management-setup', broker: name, brokerVersion: broker.version, queues: options.queues, connections: options.connections,
      declareSeconds: round(declareSeconds, 1), connectSeconds: round(connectSeconds, 1),
      idleRssMiB: mebibytes(idleRssBytes), loadedRssMiB: mebibytes(loadedRssBytes), brokerRssMiBPeak: mebibytes(sampler.stop()),
    });
  } finally {
    note(`stopping ${name} ...`);
    await closeConnections(held);
    await broker.stop();
  }
}

function printTable(): void {
  const both = brokers.length === 2;
  const value = (broker: BrokerName, pick: (result: ManagementResult) => number, endpoint: string, clients: number): number | undefined => {
    const found = results.find((result): result is ManagementResult =>
      result.bench === 'management' && result.broker === broker && result.endpoint === endpoint && result.clients === clients);
    return found === undefined ? undefined : pick(found);
  };
  const setup = (broker: BrokerName, pick: (result: SetupResult) => number): number | undefined => {
    const found = results.find((result): result is SetupResult => result.bench === 'management-setup' && result.broker === broker);
    return found === undefined ? undefined : pick(found);
  };
  const rows: [string, (broker: BrokerName) => number | undefined][] = [];
  for (const endpoint of endpoints) {
    for (const clients of endpoint.concurrent ? [1, options.concurrency] : [1]) {
      for (const [figure, pick] of [['p50', (r: ManagementResult) => r.p50Ms], ['p90', (r: ManagementResult) => r.p90Ms], ['p99', (r: ManagementResult) => r.p99Ms], ['max', (r: ManagementResult) => r.maxMs]] as const) {
        rows.push([`${endpoint.label}, ${clients} client${clients === 1 ? '' : 's'}, ${figure} ms`, (b) => value(b, pick, endpoint.label, clients)]);
      }
      const prefix = `${endpoint.label}, ${clients} client${clients === 1 ? '' : 's'}`;
      if (clients === 1) rows.push([`${prefix}, response bytes`, (b) => value(b, (r) => r.responseBytes, endpoint.label, clients)]);
      rows.push([`${prefix}, requests/s`, (b) => value(b, (r) => r.requestsPerSecond, endpoint.label, clients)]);
      rows.push([`${prefix}, broker CPU %`, (b) => value(b, (r) => r.brokerCpuPercent, endpoint.label, clients)]);
      rows.push([`${prefix}, client CPU %`, (b) => value(b, (r) => r.clientCpuPercent, endpoint.label, clients)]);
      rows.push([`${prefix}, other processes CPU %`, (b) => value(b, (r) => r.otherProcessesCpuPercent, endpoint.label, clients)]);
    }
  }
  rows.push(['declare queues s', (b) => setup(b, (r) => r.declareSeconds)]);
  rows.push(['open connections s', (b) => setup(b, (r) => r.connectSeconds)]);
  rows.push(['broker RSS idle MiB', (b) => setup(b, (r) => r.idleRssMiB)]);
  rows.push(['broker RSS loaded MiB', (b) => setup(b, (r) => r.loadedRssMiB)]);
  rows.push(['broker RSS peak MiB', (b) => setup(b, (r) => r.brokerRssMiBPeak ?? 0)]);
  const header = ['metric', ...brokers, ...(both ? ['warren/rabbitmq'] : [])];
  const table: string[][] = [header];
  for (const [metric, pick] of rows) {
    const cells = brokers.map((broker) => pick(broker));
    if (cells.every((cell) => cell === undefined)) continue;
    const warren = pick('warren');
    const rabbitmq = pick('rabbitmq');
    table.push([
      metric, ...cells.map((cell) => (cell === undefined ? '-' : String(cell))),
      ...(both ? [warren === undefined || rabbitmq === undefined || rabbitmq === 0 ? '-' : `${round(warren / rabbitmq, 2)}x`] : []),
    ]);
  }
  const widths = header.map((_, column) => Math.max(...table.map((cells) => (cells[column] ?? '').length)));
  const lines = table.map((cells) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  '));
  process.stdout.write(`\n${lines[0] ?? ''}\n${widths.map((width) => '-'.repeat(width)).join('  ')}\n${lines.slice(1).join('\n')}\n`);
  const warrenP99 = value('warren', (r) => r.p99Ms, 'queues page', 1);
  if (warrenP99 !== undefined) {
    process.stdout.write(`\nissue 7 target (Warren /api/queues page p99 < 100 ms, 1 client): ${warrenP99} ms, ${warrenP99 < 100 ? 'met' : 'NOT met'}\n`);
  }
}

let failed = false;
for (const broker of brokers) {
  try {
    await measureBroker(broker);
  } catch (error) {
    failed = true;
    note(`\n${broker} management benchmark failed: ${(error as Error).stack ?? String(error)}\n`);
  }
}
if (results.length > 0) printTable();
note(`\nresults: ${outputPath}`);
process.exit(failed ? 1 : 0);
