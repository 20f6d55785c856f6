// Task benchmark (issue 5): Warren's task layer (SDK + worker over AMQP, results recorded by the result
// keeper running inside `warren server`) next to BullMQ on Redis, on the same machine in the same run.
//   - throughput: N no-op tasks submitted (a window of outstanding submissions), processed by one worker
//     at concurrency 1, 8 and 32; tasks/s from the first submit to the last result stored (for Warren,
//     the worker settling its last task and then the keeper having recorded every outcome; BullMQ's
//     worker stores a job's result as it completes it);
//   - latency: tasks submitted at a fixed rate; submit-to-start time (the handler's start minus the
//     submit call) p50/p99.
// The producer and the worker run in this process for both systems; each broker is its own process.
// tasks-run.ts decides the order of the runs (by default the two systems take turns at each concurrency).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue, Worker as BullWorker, type Job } from 'bullmq';
import { percentile, round } from './common.js';
import { KEEPER_QUEUE } from '../src/tasks/protocol.js';

/** Settings of a task benchmark run. */
export interface TasksOptions {
  readonly tasks: number;
  /** Tasks of the untimed warm-up of each system, before its first timed run. */
  readonly warmUpTasks: number;
  readonly concurrencies: readonly number[];
  /** Most submissions in flight. */
  readonly window: number;
  readonly ratePerSecond: number;
  readonly latencySeconds: number;
}

/** One measurement. */
export interface TasksResult {
  readonly bench: 'tasks';
  /** 'baseline': Warren from another checkout (--baseline). */
  readonly broker: SystemName;
  readonly kind: 'throughput' | 'latency';
  readonly concurrency: number;
  readonly tasks: number;
  readonly tasksPerSecond?: number;
  /** CPU time per task of this process (SDK or BullMQ client and worker), microseconds. */
  readonly clientCpuUsPerTask?: number;
  /** CPU time per task of the server (Warren's process tree with its keeper thread, or redis-server), microseconds. */
  readonly serverCpuUsPerTask?: number;
  /** From the worker settling its last task to the last result stored (0 where both are one step). */
  readonly storeLagMs?: number;
  /** Warren only: each submit asked for a reply message (--submit-replies), which nothing reads. */
  readonly submitReplies?: boolean;
  /** BullMQ only: Redis ran with appendonly yes and appendfsync always (--redis-fsync). */
  readonly redisFsyncEveryWrite?: boolean;
  /** Interleaved runs: CPU time the other system's server (idle) took during this run, ms. */
  readonly idleServerCpuMs?: number;
  readonly submitToStartP50Ms?: number;
  readonly submitToStartP99Ms?: number;
}

/** Callbacks of a benchmark worker. */
export interface WorkerHooks {
  onStart(payload: { submittedAt: number }): void;
  onDone(): void;
}

/** The systems a task benchmark measures. */
export type SystemName = 'warren' | 'bullmq' | 'baseline';

/** What a system under test offers the benchmark: submit a task, and run a worker on a handler. */
export interface TaskSystem {
  readonly name: SystemName;
  submit(queue: string, payload: { submittedAt: number }): Promise<void>;
  /**
   * Resolves once the results of the tasks the worker settled are in the result store (queryable), when
   * that can come later (Warren's keeper records them from the broker).
   */
  resultsStored?(): Promise<void>;
  /** Runs a worker: `onStart` when a handler starts, `onDone` once the task's outcome is recorded. */
  startWorker(queue: string, concurrency: number, hooks: WorkerHooks): Promise<{ close(): Promise<void> }>;
  close(): Promise<void>;
}

/** Runs the untimed warm-up: options.warmUpTasks tasks at concurrency 8. */
export async function warmUp(system: TaskSystem, options: TasksOptions): Promise<void> {
  if (options.warmUpTasks > 0) await throughput(system, 8, options.warmUpTasks, options);
}

/** One timed throughput run at `concurrency`, with the CPU the clients (this process) and the server took per task. */
export async function measureThroughput(
  system: TaskSystem,
  concurrency: number,
  options: TasksOptions,
  serverCpuTimeMs: () => number,
): Promise<TasksResult> {
  const clientBefore = process.cpuUsage();
  const serverBefore = serverCpuTimeMs();
  const { seconds, storeLagMs } = await throughput(system, concurrency, options.tasks, options);
  const client = process.cpuUsage(clientBefore);
  return {
    bench: 'tasks', broker: system.name, kind: 'throughput', concurrency, tasks: options.tasks,
    tasksPerSecond: Math.round(options.tasks / seconds),
    storeLagMs: round(storeLagMs, 1),
    clientCpuUsPerTask: round((client.user + client.system) / options.tasks, 1),
    serverCpuUsPerTask: round(((serverCpuTimeMs() - serverBefore) * 1000) / options.tasks, 1),
  };
}

/** How long a throughput run took, and how much of it came after the worker settled its last task. */
interface ThroughputRun {
  seconds: number;
  storeLagMs: number;
}

async function throughput(system: TaskSystem, concurrency: number, tasks: number, options: TasksOptions): Promise<ThroughputRun> {
  const queue = `bench-noop-${system.name}-${concurrency}-${Date.now()}`;
  let completed = 0;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const worker = await system.startWorker(queue, concurrency, {
    onStart: () => undefined,
    onDone: () => {
      if (++completed === tasks) allDone();
    },
  });
  const started = process.hrtime.bigint();
  await submitWindowed(system, queue, tasks, options.window);
  await done;
  // The run ends when the last result is stored, not only settled by the worker.
  const settled = process.hrtime.bigint();
  await system.resultsStored?.();
  const stored = process.hrtime.bigint();
  await worker.close();
  return { seconds: Number(stored - started) / 1e9, storeLagMs: Number(stored - settled) / 1e6 };
}

async function submitWindowed(system: TaskSystem, queue: string, tasks: number, window: number): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < tasks; i++) {
    const submission = system.submit(queue, { submittedAt: Date.now() }).finally(() => inFlight.delete(submission));
    inFlight.add(submission);
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

/** Submit-to-start latency at `concurrency`, tasks submitted at options.ratePerSecond for options.latencySeconds. */
export async function measureLatency(system: TaskSystem, concurrency: number, options: TasksOptions): Promise<TasksResult> {
  const queue = `bench-latency-${system.name}-${Date.now()}`;
  const samples: number[] = [];
  const total = Math.round(options.ratePerSecond * options.latencySeconds);
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const worker = await system.startWorker(queue, concurrency, {
    onStart: (payload) => {
      samples.push(performance.timeOrigin + performance.now() - payload.submittedAt);
      if (samples.length === total) allDone();
    },
    onDone: () => undefined,
  });
  const intervalMs = 1000 / options.ratePerSecond;
  const startedAt = performance.now();
  const submissions: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = startedAt + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    submissions.push(system.submit(queue, { submittedAt: performance.timeOrigin + performance.now() }));
  }
  await Promise.all(submissions);
  await done;
  await worker.close();
  const sorted = Float64Array.from(samples).sort();
  return {
    bench: 'tasks', broker: system.name, kind: 'latency', concurrency, tasks: total,
    submitToStartP50Ms: round(percentile(sorted, 50), 3), submitToStartP99Ms: round(percentile(sorted, 99), 3),
  };
}

/** BullMQ on a Redis at `port`. */
export function bullmqSystem(port: number): TaskSystem {
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  const queues = new Map<string, Queue>();
  const queueOf = (name: string): Queue => {
    let queue = queues.get(name);
    if (queue === undefined) {
      queue = new Queue(name, { connection });
      queues.set(name, queue);
    }
    return queue;
  };
  return {
    name: 'bullmq',
    submit: async (name, payload) => {
      // Completed jobs keep their return value in Redis, as Warren keeps results (removeOnComplete off).
      await queueOf(name).add('noop', payload);
    },
    startWorker: async (name, concurrency, hooks) => {
      const worker = new BullWorker(name, async (job: Job<{ submittedAt: number }>) => {
        hooks.onStart(job.data);
        return 'ok';
      }, { connection, concurrency });
      worker.on('completed', () => hooks.onDone());
      await worker.waitUntilReady();
      return { close: () => worker.close() };
    },
    close: async () => {
      for (const queue of queues.values()) await queue.close();
    },
  };
}

/** How the benchmark runs Warren's SDK. */
export interface WarrenSystemSettings {
  /** The worker's prefetch per handler slot (default: the worker's own). */
  readonly prefetchMultiplier?: number | undefined;
  /** Each submit asks for a reply message (--submit-replies). */
  readonly replies?: boolean;
  /** Another checkout whose SDK to use, named 'baseline' in the results (--baseline). */
  readonly root?: string | undefined;
}

/**
 * Warren's task layer against a `warren server` at `url`: the SDK submits (each submit resolves once the
 * broker confirmed the task message, which also stands for its queued event; with no reply asked for
 * unless `replies`), a worker runs the handler
 * and records the outcome (events confirmed, then acked); the server's keeper stores results in SQLite.
 * A task counts as done once the worker settled it and its result is in the store: after the worker's
 * last task, the run polls the management API at `httpUrl` until the keeper queue is empty.
 *
 * The SDK is the package's entry as shipped (`dist/tasks/index.js`, what `import ... from 'warren'`
 * loads; startWarren builds it unless --skip-build), as BullMQ runs from its published JavaScript. Loaded
 * from the TypeScript sources through tsx, every closure the SDK makes per task went through esbuild's
 * `__name` helper (a defineProperty each): the clients took 2-4 us more CPU per task (three alternated
 * pairs at concurrency 8 and 32, 100,000 tasks).
 */
export async function warrenSystem(url: string, httpUrl: string, settings: WarrenSystemSettings = {}): Promise<TaskSystem> {
  const { prefetchMultiplier, replies = false, root } = settings;
  // From another checkout (root), that checkout's SDK (its dist/), so that each version runs with its own SDK.
  const shipped = root === undefined ? new URL('../dist/tasks/index.js', import.meta.url).href : pathToFileURL(join(root, 'dist', 'tasks', 'index.js')).href;
  const { connectTasks, createWorker } = (await import(shipped)) as typeof import('../src/tasks/index.js');
  const client = connectTasks({ url });
  // The benchmark never awaits a result through the client, as BullMQ's producer here subscribes to no
  // completion events (QueueEvents): so no reply messages, unless `replies` (--submit-replies) asks.
  const submitOptions = { reply: replies };
  return {
    name: root === undefined ? 'warren' : 'baseline',
    submit: async (name, payload) => {
      await client.submit(name, payload, submitOptions);
    },
    startWorker: async (name, concurrency, hooks) => {
      const worker = createWorker(prefetchMultiplier === undefined ? { url, concurrency } : { url, concurrency, prefetchMultiplier });
      worker.handle<{ submittedAt: number }>(name, (payload) => {
        hooks.onStart(payload);
        return 'ok';
      });
      worker.on('settled', (settled) => {
        if (settled.outcome === 'succeeded') hooks.onDone();
      });
      await worker.start();
      return { close: () => worker.close() };
    },
    resultsStored: () => waitForKeeperQueueEmpty(httpUrl),
    close: () => client.close(),
  };
}

/**
 * Polls the management API until the keeper queue is empty (no message ready or unacknowledged): the
 * keeper acknowledges an event only once the store committed it, so by then every outcome the worker
 * published (all of them confirmed before this is called) is recorded.
 */
async function waitForKeeperQueueEmpty(httpUrl: string): Promise<void> {
  const authorization = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await fetch(`${httpUrl}/api/queues/%2F/${encodeURIComponent(KEEPER_QUEUE)}`, { headers: { authorization } });
    if (!response.ok) throw new Error(`GET the keeper queue answered ${response.status}`);
    const { messages } = (await response.json()) as { messages?: number };
    if (messages === 0) return;
    if (Date.now() > deadline) throw new Error(`the keeper queue still held ${messages} messages after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
