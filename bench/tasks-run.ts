// `npm run bench:tasks -- [--tasks N] [--warm-up N] [--rate R] [--concurrency 1,8,32] [--repeat N] [--sequential] [--only warren|bullmq] [--prefetch-multiplier M] [--submit-replies] [--redis-fsync]`:
// Warren's task layer (a `warren server` process) next to BullMQ on a private redis-server, same
// machine, same run. Prints a table and appends JSON lines to .bench/tasks-<timestamp>.jsonl.
//
// Order of the runs. Both servers are started first and both systems warmed up; then, at each
// concurrency, the two systems take turns (which one goes first alternates from one pair to the next),
// `--repeat` times, so that the two runs of a pair are seconds apart, not 20-40 s as with each system's
// runs in one block (the order before the fifteenth round, kept as `--sequential`). The development
// machine's speed changes by tens of percent, and within seconds too: in the fifteenth round taking
// turns did not narrow the spread of single runs, so compare medians (`--repeat 5`). The server not
// being measured is idle meanwhile (its CPU is recorded, not counted). Latency runs last, one system
// after the other. With `--repeat` above 1 the table shows medians.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './common.js';
import { startRedis } from './redis.js';
import { bullmqSystem, measureLatency, measureThroughput, warmUp, warrenSystem, type TaskSystem, type TasksOptions, type TasksResult } from './tasks.js';
import { startWarren } from './warren.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '20000' },
    'warm-up': { type: 'string', default: '2000' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    window: { type: 'string', default: '500' },
    'skip-build': { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '1,8,32' },
    // Throughput runs of each system at each concurrency (the table shows medians).
    repeat: { type: 'string', default: '1' },
    // Each system's runs in one block, Warren's first (the order of the fourteenth round and before).
    sequential: { type: 'boolean', default: false },
    only: { type: 'string' },
    // Warren's worker prefetch per handler slot (default: the worker's own default), for experiments.
    'prefetch-multiplier': { type: 'string' },
    // Warren's submits ask for a reply message each (the SDK's default), which the benchmark never reads.
    'submit-replies': { type: 'boolean', default: false },
    // Redis with appendonly yes + appendfsync always: BullMQ at the durability Warren gives (default: Redis' defaults).
    'redis-fsync': { type: 'boolean', default: false },
  },
});
const options: TasksOptions = {
  tasks: Number(values.tasks),
  warmUpTasks: Number(values['warm-up']),
  concurrencies: values.concurrency.split(',').map(Number),
  window: Number(values.window),
  ratePerSecond: Number(values.rate),
  latencySeconds: Number(values.seconds),
};
const repeat = Number(values.repeat);
if (!Number.isInteger(repeat) || repeat < 1) throw new RangeError(`--repeat must be a positive integer, got ${values.repeat}`);
const note = (line: string): void => console.error(line);
mkdirSync('.bench', { recursive: true });
const output = join('.bench', `tasks-${new Date().toISOString().replaceAll(':', '-')}.jsonl`);
const results: TasksResult[] = [];
const record = (result: TasksResult): void => {
  results.push(result);
  appendFileSync(output, `${JSON.stringify({ ...result, date: new Date().toISOString() })}\n`);
  console.log(JSON.stringify(result));
};

/** A system under test with its server, ready to run. */
interface Contender {
  readonly system: TaskSystem;
  serverCpuTimeMs(): number;
  /** Fields every result of this system carries. */
  readonly extra: Partial<TasksResult>;
  stop(): Promise<void>;
}

const contenders: Contender[] = [];
try {
  if (values.only !== 'bullmq') {
    note('starting warren ...');
    const warren = await startWarren({ skipBuild: values['skip-build'], log: note });
    const multiplier = values['prefetch-multiplier'];
    const system = await warrenSystem(warren.url, warren.httpUrl, multiplier === undefined ? undefined : Number(multiplier), values['submit-replies']).catch(async (error: unknown) => {
      await warren.stop();
      throw error;
    });
    contenders.push({
      system, serverCpuTimeMs: () => warren.cpuTimeMs(), extra: { submitReplies: values['submit-replies'] },
      stop: async () => {
        await system.close();
        await warren.stop();
      },
    });
  }
  if (values.only !== 'warren') {
    const fsyncEveryWrite = values['redis-fsync'];
    note(`starting redis${fsyncEveryWrite ? ' (appendonly, appendfsync always)' : ''} ...`);
    const redis = await startRedis({ fsyncEveryWrite });
    const system = bullmqSystem(redis.port);
    contenders.push({
      system, serverCpuTimeMs: () => redis.cpuTimeMs(), extra: { redisFsyncEveryWrite: fsyncEveryWrite },
      stop: async () => {
        await system.close();
        await redis.stop();
      },
    });
  }
  const throughputRun = async (contender: Contender, concurrency: number): Promise<void> => {
    const idle = contenders.find((other) => other !== contender);
    const idleBefore = idle?.serverCpuTimeMs();
    const result = await measureThroughput(contender.system, concurrency, options, contender.serverCpuTimeMs);
    const idleServerCpuMs = idle === undefined || idleBefore === undefined ? {} : { idleServerCpuMs: Math.round(idle.serverCpuTimeMs() - idleBefore) };
    record({ ...result, ...idleServerCpuMs, ...contender.extra });
  };
  if (values.sequential) {
    for (const contender of contenders) {
      await warmUp(contender.system, options);
      for (const concurrency of options.concurrencies) for (let run = 0; run < repeat; run++) await throughputRun(contender, concurrency);
      record({ ...(await measureLatency(contender.system, 8, options)), ...contender.extra });
    }
  } else {
    for (const contender of contenders) await warmUp(contender.system, options);
    let pair = 0;
    for (const concurrency of options.concurrencies) {
      for (let run = 0; run < repeat; run++, pair++) {
        const order = pair % 2 === 0 ? contenders : [...contenders].reverse();
        for (const contender of order) await throughputRun(contender, concurrency);
      }
    }
    for (const contender of contenders) record({ ...(await measureLatency(contender.system, 8, options)), ...contender.extra });
  }
} finally {
  for (const contender of contenders) await contender.stop();
}

/** The median of the figures `pick` takes from the results of `broker` and `kind` at `concurrency`. */
const figure = (broker: string, kind: string, concurrency: number, pick: (r: TasksResult) => number | undefined): number | undefined =>
  median(
    results
      .filter((r) => r.broker === broker && r.kind === kind && r.concurrency === concurrency)
      .map(pick)
      .filter((value): value is number => value !== undefined),
  );
const cpuPerTask = (r: TasksResult): number | undefined =>
  r.clientCpuUsPerTask === undefined || r.serverCpuUsPerTask === undefined ? undefined : Math.round(r.clientCpuUsPerTask + r.serverCpuUsPerTask);
const medianNote = repeat > 1 ? `, median of ${repeat}` : '';
const rows: [string, number | undefined, number | undefined][] = [
  ...options.concurrencies.map((c): [string, number | undefined, number | undefined] => [
    `tasks/s, no-op handler, concurrency ${c}${medianNote}`,
    figure('warren', 'throughput', c, (r) => r.tasksPerSecond),
    figure('bullmq', 'throughput', c, (r) => r.tasksPerSecond),
  ]),
  ...options.concurrencies.map((c): [string, number | undefined, number | undefined] => [
    `CPU us per task (client + server), concurrency ${c}${medianNote}`,
    figure('warren', 'throughput', c, cpuPerTask),
    figure('bullmq', 'throughput', c, cpuPerTask),
  ]),
  [`submit-to-start p50 ms at ${options.ratePerSecond}/s`, figure('warren', 'latency', 8, (r) => r.submitToStartP50Ms), figure('bullmq', 'latency', 8, (r) => r.submitToStartP50Ms)],
  [`submit-to-start p99 ms at ${options.ratePerSecond}/s`, figure('warren', 'latency', 8, (r) => r.submitToStartP99Ms), figure('bullmq', 'latency', 8, (r) => r.submitToStartP99Ms)],
];
console.log(`\nmetric | warren | bullmq | warren/bullmq    (${values.sequential ? 'sequential' : 'interleaved'} runs)`);
for (const [metric, warrenValue, bullmqValue] of rows) {
  const ratio = warrenValue !== undefined && bullmqValue !== undefined && bullmqValue !== 0 ? `${(warrenValue / bullmqValue).toFixed(2)}x` : '-';
  console.log(`${metric} | ${warrenValue ?? '-'} | ${bullmqValue ?? '-'} | ${ratio}`);
}
if (repeat > 1 && contenders.length === 2) {
  // Each pair's own ratio (the n-th run of each system at a concurrency).
  for (const c of options.concurrencies) {
    const runs = (broker: string): TasksResult[] => results.filter((r) => r.broker === broker && r.kind === 'throughput' && r.concurrency === c);
    const [warrenRuns, bullmqRuns] = [runs('warren'), runs('bullmq')];
    const ratios = warrenRuns.map((w, i) => ((w.tasksPerSecond ?? 0) / (bullmqRuns[i]?.tasksPerSecond ?? Number.NaN)).toFixed(2));
    console.log(`ratio of each pair, concurrency ${c}: ${ratios.join(', ')}`);
  }
}
console.log(`\nresults: ${output}`);
process.exit(0);
