// `npm run bench:tasks -- [--tasks N] [--warm-up N] [--rate R] [--concurrency 1,8,32] [--repeat N] [--sequential] [--only warren|bullmq] [--baseline DIR] [--prefetch-multiplier M] [--submit-replies] [--redis-fsync]`:
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
//
// `--baseline DIR` measures this checkout's Warren against another checkout's (DIR, built, with its
// node_modules), in turns as above, instead of against BullMQ: each version runs its own server and
// its own SDK. A change worth a few percent hides in the machine's swings, so give it many short pairs
// (say `--tasks 10000 --repeat 60`) and read the median of the pairs' ratios: in the sixteenth round
// two identical checkouts measured this way came out 0.96-1.05 apart (docs/benchmarks.md).
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
    // Another checkout of Warren (built) to measure this one against, instead of BullMQ.
    baseline: { type: 'string' },
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

const baselineRoot = values.baseline === undefined ? undefined : resolve(values.baseline);
if (baselineRoot !== undefined && values.only !== undefined) throw new Error('--baseline runs two Warrens: it takes no --only');
/** The system measured against Warren: BullMQ, or the baseline Warren. */
const other = baselineRoot === undefined ? 'bullmq' : 'baseline';

/** Starts a Warren (this checkout's, or the one at `root`) and its SDK as a contender. */
async function warrenContender(root?: string): Promise<Contender> {
  note(`starting warren${root === undefined ? '' : ` from ${root}`} ...`);
  const warren = await startWarren({ skipBuild: values['skip-build'], log: note, ...(root === undefined ? {} : { root }) });
  const multiplier = values['prefetch-multiplier'];
  const system = await warrenSystem(warren.url, warren.httpUrl, {
    prefetchMultiplier: multiplier === undefined ? undefined : Number(multiplier),
    replies: values['submit-replies'],
    root,
  }).catch(async (error: unknown) => {
    await warren.stop();
    throw error;
  });
  return {
    system, serverCpuTimeMs: () => warren.cpuTimeMs(), extra: { submitReplies: values['submit-replies'] },
    stop: async () => {
      await system.close();
      await warren.stop();
    },
  };
}

const contenders: Contender[] = [];
try {
  if (values.only !== 'bullmq') contenders.push(await warrenContender());
  if (baselineRoot !== undefined) contenders.push(await warrenContender(baselineRoot));
  else if (values.only !== 'warren') {
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
    figure(other, 'throughput', c, (r) => r.tasksPerSecond),
  ]),
  ...options.concurrencies.map((c): [string, number | undefined, number | undefined] => [
    `CPU us per task (client + server), concurrency ${c}${medianNote}`,
    figure('warren', 'throughput', c, cpuPerTask),
    figure(other, 'throughput', c, cpuPerTask),
  ]),
  [`submit-to-start p50 ms at ${options.ratePerSecond}/s`, figure('warren', 'latency', 8, (r) => r.submitToStartP50Ms), figure(other, 'latency', 8, (r) => r.submitToStartP50Ms)],
  [`submit-to-start p99 ms at ${options.ratePerSecond}/s`, figure('warren', 'latency', 8, (r) => r.submitToStartP99Ms), figure(other, 'latency', 8, (r) => r.submitToStartP99Ms)],
];
console.log(`\nmetric | warren | ${other} | warren/${other}    (${values.sequential ? 'sequential' : 'interleaved'} runs)`);
for (const [metric, warrenValue, otherValue] of rows) {
  const ratio = warrenValue !== undefined && otherValue !== undefined && otherValue !== 0 ? `${(warrenValue / otherValue).toFixed(2)}x` : '-';
  console.log(`${metric} | ${warrenValue ?? '-'} | ${otherValue ?? '-'} | ${ratio}`);
}
if (repeat > 1 && contenders.length === 2) {
  // Each pair's own ratio (the n-th run of each system at a concurrency).
  for (const c of options.concurrencies) {
    const runs = (broker: string): TasksResult[] => results.filter((r) => r.broker === broker && r.kind === 'throughput' && r.concurrency === c);
    const [warrenRuns, otherRuns] = [runs('warren'), runs(other)];
    const ratios = warrenRuns.map((w, i) => (w.tasksPerSecond ?? 0) / (otherRuns[i]?.tasksPerSecond ?? Number.NaN));
    const cpuRatios = warrenRuns.map((w, i) => {
      const otherRun = otherRuns[i];
      return (cpuPerTask(w) ?? Number.NaN) / (otherRun === undefined ? Number.NaN : (cpuPerTask(otherRun) ?? Number.NaN));
    });
    console.log(`ratio of each pair, concurrency ${c}: ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
    if (baselineRoot !== undefined) {
      console.log(`  median ratio of tasks/s ${median(ratios)?.toFixed(3)}, of CPU per task ${median(cpuRatios)?.toFixed(3)} (${ratios.length} pairs)`);
    }
  }
}
console.log(`\nresults: ${output}`);
process.exit(0);
