// `npm run bench:tasks:summary -- FILE...`: pools the throughput pairs of several `npm run bench:tasks`
// result files (.bench/tasks-*.jsonl, each from a run with --repeat) into one view per concurrency:
// each run's ratio of medians (what that run's table printed), and the median of every pair's own
// ratio across all the files. One run's five pairs swing with the machine (docs/benchmarks.md,
// seventeenth round); the pooled median is the steadier estimate of the ratio.
import { readFileSync } from 'node:fs';
import { median } from './common.js';
import type { TasksResult } from './tasks.js';

const files = process.argv.slice(2);
if (files.length === 0) throw new Error('usage: npm run bench:tasks:summary -- .bench/tasks-<time>.jsonl ...');

/** Per concurrency: each run's ratio of medians, and every pair's ratio. */
const byConcurrency = new Map<number, { runs: number[]; pairs: number[] }>();
let other: string | undefined;

for (const file of files) {
  const results = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TasksResult)
    .filter((result) => result.kind === 'throughput' && result.tasksPerSecond !== undefined);
  const others = new Set(results.map((result) => result.broker).filter((broker) => broker !== 'warren'));
  if (others.size !== 1) throw new Error(`${file}: expected Warren and one other system, found ${[...others].join(', ') || 'none'}`);
  const [fileOther] = others;
  if (other !== undefined && fileOther !== other) throw new Error(`${file}: measured against ${fileOther}, the files before against ${other}`);
  other = fileOther;
  for (const concurrency of new Set(results.map((result) => result.concurrency))) {
    const runsOf = (broker: string): number[] =>
      results.filter((result) => result.broker === broker && result.concurrency === concurrency).map((result) => result.tasksPerSecond as number);
    const [warren, against] = [runsOf('warren'), runsOf(fileOther as string)];
    if (warren.length === 0 || warren.length !== against.length) throw new Error(`${file}: concurrency ${concurrency} has ${warren.length} Warren runs and ${against.length} others`);
    const entry = byConcurrency.get(concurrency) ?? { runs: [], pairs: [] };
    entry.runs.push((median(warren) as number) / (median(against) as number));
    entry.pairs.push(...warren.map((value, index) => value / (against[index] as number)));
    byConcurrency.set(concurrency, entry);
  }
}

console.log(`warren / ${other}, throughput, ${files.length} files`);
for (const [concurrency, { runs, pairs }] of [...byConcurrency].sort(([a], [b]) => a - b)) {
  const atLeast2 = (values: number[]): number => values.filter((value) => value >= 2).length;
  console.log(
    `concurrency ${concurrency}: runs' ratios of medians ${Math.min(...runs).toFixed(2)}-${Math.max(...runs).toFixed(2)} (${atLeast2(runs)} of ${runs.length} at 2x or more); ` +
      `${pairs.length} pairs ${Math.min(...pairs).toFixed(2)}-${Math.max(...pairs).toFixed(2)}, median ${(median(pairs) as number).toFixed(2)} (${atLeast2(pairs)} at 2x or more)`,
  );
}
