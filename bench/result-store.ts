// `npm run bench:store -- [options]`: the CPU cost per task event of the SQLite result store, on its own
// (no broker). Applies the events of N tasks (queued, optionally started, then succeeded) through
// ThreadedResultStore (what `warren keeper --store sqlite:` runs: SQLite in a worker thread) and
// SqliteResultStore (on the calling thread, as in `warren server`'s keeper thread), keeping a keeper-like window of applies in flight, and reports events/s and CPU
// time per event: the whole process (process.cpuUsage), and the calling thread alone
// (/proc/thread-self/schedstat), so that for the threaded store the rest is the store thread's share.
// Wall-clock figures move with whatever else runs on the machine; compare CPU per event, back to back.
// Prints one JSON line per measurement and a table on stderr.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_TASK_OPTIONS, TASK_PROTOCOL_VERSION, type TaskEvent } from '../src/tasks/protocol.js';
import { SqliteResultStore, type SqliteSynchronous } from '../src/tasks/store/sqlite-store.js';
import type { ResultStore } from '../src/tasks/store/result-store.js';
import { ThreadedResultStore } from '../src/tasks/store/threaded-store.js';
import { round } from './common.js';

const usage = `Usage: npm run bench:store -- [options]

  --store threaded|sqlite|both   stores to measure (default: both)
  --tasks N                      tasks per measurement (default: 20000)
  --rounds N                     measurements per store, each on a new file (default: 3)
  --window N                     applies in flight at once, as the keeper's prefetch (default: 500)
  --lag N                        tasks queued between a task's queued and its last event (default: 250)
  --started                      apply a started event between queued and succeeded
  --ids random|ordered           task ids: random UUIDs (v4, what the SDK gives; default) or time-ordered
                                 ones (UUID v7 layout), to see what the key order costs the indexes
  --synchronous FULL|NORMAL      SQLite synchronous setting (default: FULL)
  --dir PATH                     where the database files go (default: the OS temp dir)
  --help                         this text

Profile (the store thread too) with: node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/result-store.ts
`;

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'both' },
    tasks: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    window: { type: 'string', default: '500' },
    lag: { type: 'string', default: '250' },
    started: { type: 'boolean', default: false },
    ids: { type: 'string', default: 'random' },
    synchronous: { type: 'string', default: 'FULL' },
    dir: { type: 'string', default: tmpdir() },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const synchronous = values.synchronous as SqliteSynchronous;
if (synchronous !== 'FULL' && synchronous !== 'NORMAL') throw new Error(`--synchronous FULL or NORMAL, got ${values.synchronous}`);
const storeKinds = values.store === 'both' ? (['threaded', 'sqlite'] as const) : [values.store as 'threaded' | 'sqlite'];
const settings = {
  tasks: Number(values.tasks),
  rounds: Number(values.rounds),
  window: Number(values.window),
  lag: Number(values.lag),
  started: values.started,
  ids: values.ids,
};
if (settings.ids !== 'random' && settings.ids !== 'ordered') throw new Error(`--ids random or ordered, got ${settings.ids}`);

/** One measurement. */
interface StoreResult {
  bench: 'result-store';
  store: 'threaded' | 'sqlite';
  synchronous: SqliteSynchronous;
  tasks: number;
  events: number;
  eventsPerSecond: number;
  /** CPU time of the whole process per event, microseconds. */
  processCpuUsPerEvent: number;
  /** CPU time of the thread calling the store per event, microseconds. */
  callerCpuUsPerEvent: number;
  /** The rest: the store thread (threaded) and helper threads (GC, I/O), microseconds per event. */
  otherThreadsCpuUsPerEvent: number;
}

/** CPU time the calling thread has run, in microseconds (first field of schedstat: nanoseconds on CPU). */
function threadCpuUs(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1000;
}

function processCpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

let orderedIds = 0;

/** A UUID whose first 48 bits are the time in ms, then a counter (the order of UUID v7). */
function orderedUuid(): string {
  const hex = (Date.now().toString(16).padStart(12, '0') + (orderedIds++).toString(16).padStart(8, '0') + randomUUID().replaceAll('-', '')).slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The events of a new task, in the order a worker reports them. */
function eventsOfTask(at: number): TaskEvent[] {
  const id = settings.ids === 'ordered' ? orderedUuid() : randomUUID();
  const base = { protocol: TASK_PROTOCOL_VERSION, id, name: 'bench-noop', run: 1, attempt: 1 } as const;
  const queued: TaskEvent = { ...base, kind: 'queued', at, enqueuedAt: at, payload: { submittedAt: at }, options: DEFAULT_TASK_OPTIONS };
  const started: TaskEvent = { ...base, kind: 'started', at: at + 1, worker: 'bench-worker-1' };
  const succeeded: TaskEvent = { ...base, kind: 'succeeded', at: at + 2, result: 'ok' };
  return settings.started ? [queued, started, succeeded] : [queued, succeeded];
}

/**
 * The events of `tasks` tasks as a keeper would see them: each task's first event, and its later events
 * once `lag` more tasks have been queued (so they usually land in another commit, as in a busy server).
 * Made before the measurement starts, so that it counts the store's work only.
 */
function eventSequence(tasks: number): TaskEvent[] {
  const at = Date.now();
  const sequence: TaskEvent[] = [];
  const later: TaskEvent[][] = [];
  for (let index = 0; index < tasks + settings.lag; index++) {
    if (index < tasks) {
      const [first, ...rest] = eventsOfTask(at + index);
      if (first !== undefined) sequence.push(first);
      later.push(rest);
    }
    if (index >= settings.lag) sequence.push(...(later.shift() ?? []));
  }
  return sequence;
}

/** Applies the events in order with at most `window` applies in flight; resolves when all are done. */
function applyAll(store: ResultStore, events: readonly TaskEvent[]): Promise<number> {
  return new Promise((resolve, reject) => {
    let inFlight = 0;
    let applied = 0;
    let next = 0;
    const refill = (): void => {
      while (next < events.length && inFlight < settings.window) {
        const event = events[next++];
        if (event === undefined) break;
        inFlight++;
        store.apply(event).then(settled, reject);
      }
      if (next === events.length && inFlight === 0) resolve(applied);
    };
    const settled = (): void => {
      inFlight--;
      applied++;
      refill();
    };
    refill();
  });
}

function openStore(kind: 'threaded' | 'sqlite', path: string): ResultStore {
  return kind === 'threaded' ? new ThreadedResultStore(path, { synchronous }) : new SqliteResultStore(path, { synchronous });
}

async function measure(kind: 'threaded' | 'sqlite', directory: string, measurement: number): Promise<StoreResult> {
  const store = openStore(kind, join(directory, `${kind}-${measurement}.sqlite`));
  try {
    await applyAll(store, eventSequence(2000)); // JIT and statement caches, not measured
    const events = eventSequence(settings.tasks);
    const processBefore = processCpuUs();
    const callerBefore = threadCpuUs();
    const started = process.hrtime.bigint();
    const applied = await applyAll(store, events);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const processCpu = processCpuUs() - processBefore;
    const callerCpu = threadCpuUs() - callerBefore;
    return {
      bench: 'result-store', store: kind, synchronous, tasks: settings.tasks, events: applied,
      eventsPerSecond: Math.round(applied / seconds),
      processCpuUsPerEvent: round(processCpu / applied, 2),
      callerCpuUsPerEvent: round(callerCpu / applied, 2),
      otherThreadsCpuUsPerEvent: round((processCpu - callerCpu) / applied, 2),
    };
  } finally {
    await store.close();
  }
}

const directory = mkdtempSync(join(values.dir, 'warren-bench-store-'));
try {
  console.error(`store     events/s  process us/event  caller us/event  other threads us/event   (${JSON.stringify(settings)}, synchronous=${synchronous})`);
  for (let measurement = 1; measurement <= settings.rounds; measurement++) {
    for (const kind of storeKinds) {
      const result = await measure(kind, directory, measurement);
      console.log(JSON.stringify(result));
      console.error(
        `${kind.padEnd(8)} ${String(result.eventsPerSecond).padStart(9)} ${String(result.processCpuUsPerEvent).padStart(17)}` +
          ` ${String(result.callerCpuUsPerEvent).padStart(16)} ${String(result.otherThreadsCpuUsPerEvent).padStart(23)}`,
      );
    }
  }
} finally {
  rmSync(directory, { recursive: true, force: true });
}
