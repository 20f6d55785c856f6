// `npm run bench:tasks -- [--tasks N] [--rate R] [--concurrency 1,8,32] [--only warren|bullmq] [--prefetch-multiplier M] [--submit-replies] [--redis-fsync]`: Warren's task layer
// (a `warren server` process)
// to BullMQ on a private redis-server, same machine, same run. Prints a table and appends JSON lines to
// .bench/tasks-<timestamp>.jsonl.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRedis } from './redis.js';
import { bullmqSystem, runTasks, warrenSystem, type TasksOptions, type TasksResult } from './tasks.js';
import { startWarren } from './warren.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    window: { type: 'string', default: '500' },
    'skip-build': { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '1,8,32' },
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
  concurrencies: values.concurrency.split(',').map(Number),
  window: Number(values.window),
  ratePerSecond: Number(values.rate),
  latencySeconds: Number(values.seconds),
};
const note = (line: string): void => console.error(line);
mkdirSync('.bench', { recursive: true });
const output = join('.bench', `tasks-${new Date().toISOString().replaceAll(':', '-')}.jsonl`);
const results: TasksResult[] = [];
const record = (result: TasksResult): void => {
  results.push(result);
  appendFileSync(output, `${JSON.stringify({ ...result, date: new Date().toISOString() })}\n`);
  console.log(JSON.stringify(result));
};

if (values.only !== 'bullmq') {
  note('starting warren ...');
  const warren = await startWarren({ skipBuild: values['skip-build'], log: note });
  try {
    const multiplier = values['prefetch-multiplier'];
    const system = await warrenSystem(warren.url, warren.httpUrl, multiplier === undefined ? undefined : Number(multiplier), values['submit-replies']);
    for (const result of await runTasks(system, options, () => warren.cpuTimeMs())) record({ ...result, submitReplies: values['submit-replies'] });
    await system.close();
  } finally {
    await warren.stop();
  }
}
if (values.only !== 'warren') {
  const fsyncEveryWrite = values['redis-fsync'];
  note(`starting redis${fsyncEveryWrite ? ' (appendonly, appendfsync always)' : ''} ...`);
  const redis = await startRedis({ fsyncEveryWrite });
  try {
    const system = bullmqSystem(redis.port);
    for (const result of await runTasks(system, options, () => redis.cpuTimeMs())) record({ ...result, redisFsyncEveryWrite: fsyncEveryWrite });
    await system.close();
  } finally {
    await redis.stop();
  }
}

const figure = (broker: string, kind: string, concurrency: number, pick: (r: TasksResult) => number | undefined): number | undefined =>
  pick(results.find((r) => r.broker === broker && r.kind === kind && r.concurrency === concurrency) ?? ({} as TasksResult));
const cpuPerTask = (r: TasksResult): number | undefined =>
  r.clientCpuUsPerTask === undefined || r.serverCpuUsPerTask === undefined ? undefined : Math.round(r.clientCpuUsPerTask + r.serverCpuUsPerTask);
const rows: [string, number | undefined, number | undefined][] = [
  ...options.concurrencies.map((c): [string, number | undefined, number | undefined] => [
    `tasks/s, no-op handler, concurrency ${c}`,
    figure('warren', 'throughput', c, (r) => r.tasksPerSecond),
    figure('bullmq', 'throughput', c, (r) => r.tasksPerSecond),
  ]),
  ...options.concurrencies.map((c): [string, number | undefined, number | undefined] => [
    `CPU us per task (client + server), concurrency ${c}`,
    figure('warren', 'throughput', c, cpuPerTask),
    figure('bullmq', 'throughput', c, cpuPerTask),
  ]),
  [`submit-to-start p50 ms at ${options.ratePerSecond}/s`, figure('warren', 'latency', 8, (r) => r.submitToStartP50Ms), figure('bullmq', 'latency', 8, (r) => r.submitToStartP50Ms)],
  [`submit-to-start p99 ms at ${options.ratePerSecond}/s`, figure('warren', 'latency', 8, (r) => r.submitToStartP99Ms), figure('bullmq', 'latency', 8, (r) => r.submitToStartP99Ms)],
];
console.log('\nmetric | warren | bullmq | warren/bullmq');
for (const [metric, warrenValue, bullmqValue] of rows) {
  const ratio = warrenValue !== undefined && bullmqValue !== undefined && bullmqValue !== 0 ? `${(warrenValue / bullmqValue).toFixed(2)}x` : '-';
  console.log(`${metric} | ${warrenValue ?? '-'} | ${bullmqValue ?? '-'} | ${ratio}`);
}
console.log(`\nresults: ${output}`);
process.exit(0);
