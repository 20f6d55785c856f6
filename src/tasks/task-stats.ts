/**
 * The seed article's measures of an asynchronous system, per task name: throughput (finished tasks per
 * second), average response time (submit to finish), and latency split into waiting (submit to start)
 * and processing (start to finish), with p50/p90/p99, over sliding windows and since the keeper started.
 * The keeper feeds it every record that reached a terminal state.
 */
import type { TaskState } from './protocol.js';
import type { TaskRecord } from './store/result-store.js';
import { TaskMetrics } from './task-metrics.js';
import { RecentRuns } from '../util/recent-runs.js';

/** The sliding windows reported, in seconds. */
export const STATS_WINDOWS_SECONDS = [60, 300, 900] as const;
/** Most recent finished tasks kept per name for the windows' percentiles. */
const SAMPLES_PER_NAME_MAX = 10_000;
/** Most runs remembered as counted. */
const COUNTED_KEYS_MAX = 100_000;

/** Distribution of one latency, in milliseconds. */
export interface LatencyStats {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
}

/** One task name's figures over one period. */
export interface PeriodStats {
  /** Tasks finished in the period, by final state. */
  finished: number;
  succeeded: number;
  failed: number;
  /** Finished tasks per second over the period. */
  throughputPerSecond: number;
  /** Submit to finish. */
  responseMs: LatencyStats | undefined;
  /** Submit to start of the last attempt. */
  waitMs: LatencyStats | undefined;
  /** Start of the last attempt to finish. */
  processingMs: LatencyStats | undefined;
}

/** One task name's figures: since the keeper started, and per sliding window (keyed "60s", "300s", ...). */
export interface TaskNameStats {
  sinceStart: PeriodStats;
  windows: Record<string, PeriodStats>;
}

interface Sample {
  finishedAt: number;
  state: TaskState;
  responseMs: number;
  waitMs: number | undefined;
  processingMs: number | undefined;
}

/** One task name's recent samples, and its counts since the keeper started. */
interface NameFigures {
  samples: Sample[];
  finished: number;
  succeeded: number;
  responseMsSum: number;
}

/** Per-name statistics of finished tasks. */
export class TaskStats {
  private readonly byName = new Map<string, NameFigures>();
  /**
   * The name last recorded and its figures: finished tasks mostly come in runs of one name, and
   * comparing a name costs less than finding it in the map (each event brings its own copy of the
   * name, whose hash is computed anew).
   */
  private lastName: string | undefined;
  private last: NameFigures | undefined;
  /** Runs already counted (a terminal event applied twice, after a redelivery, counts once). */
  private readonly counted = new RecentRuns(COUNTED_KEYS_MAX);
  /** Cumulative counters and histograms of the same runs, for Prometheus. */
  readonly cumulative = new TaskMetrics();

  constructor(private readonly startedAt: number = Date.now()) {}

  /** Records a task that reached a terminal state (its record after the terminal event); a run counts once. */
  record(task: TaskRecord): void {
    if (task.finishedAt === undefined) return;
    if (this.counted.has(task.id, task.run)) return;
    // A run is forgotten once COUNTED_KEYS_MAX / 2 to COUNTED_KEYS_MAX more were counted: a redelivered terminal event comes soon after the first, if at all.
    this.counted.add(task.id, task.run);
    this.cumulative.record(task);
    const sample: Sample = {
      finishedAt: task.finishedAt,
      state: task.state,
      responseMs: task.finishedAt - task.createdAt,
      waitMs: task.startedAt === undefined ? undefined : task.startedAt - task.createdAt,
      processingMs: task.startedAt === undefined ? undefined : task.finishedAt - task.startedAt,
    };
    const figures = task.name === this.lastName && this.last !== undefined ? this.last : this.figuresOf(task.name);
    const list = figures.samples;
    list.push(sample);
    // Trimmed in chunks (one shift of the array per SAMPLES_PER_NAME_MAX tasks, not one per task); snapshot reads the newest only.
    if (list.length >= 2 * SAMPLES_PER_NAME_MAX) list.splice(0, list.length - SAMPLES_PER_NAME_MAX);
    figures.finished++;
    if (task.state === 'succeeded') figures.succeeded++;
    figures.responseMsSum += sample.responseMs;
  }

  /** The figures of `name` (new ones for a new name), made the last name recorded. */
  private figuresOf(name: string): NameFigures {
    let figures = this.byName.get(name);
    if (figures === undefined) this.byName.set(name, (figures = { samples: [], finished: 0, succeeded: 0, responseMsSum: 0 }));
    this.lastName = name;
    this.last = figures;
    return figures;
  }

  /** The figures of every task name seen, at `now`. */
  snapshot(now: number = Date.now()): Record<string, TaskNameStats> {
    const result: Record<string, TaskNameStats> = {};
    for (const [name, figures] of this.byName) {
      const kept = figures.samples;
      const samples = kept.length > SAMPLES_PER_NAME_MAX ? kept.slice(-SAMPLES_PER_NAME_MAX) : kept;
      const elapsedSeconds = Math.max((now - this.startedAt) / 1000, 0.001);
      const sinceStart = periodStats(samples, elapsedSeconds);
      // Counts and the mean response since start cover every task, not only the samples kept.
      sinceStart.finished = figures.finished;
      sinceStart.succeeded = figures.succeeded;
      sinceStart.failed = figures.finished - figures.succeeded;
      sinceStart.throughputPerSecond = round(figures.finished / elapsedSeconds);
      if (sinceStart.responseMs !== undefined) sinceStart.responseMs.mean = round(figures.responseMsSum / figures.finished);
      const windows: Record<string, PeriodStats> = {};
      for (const seconds of STATS_WINDOWS_SECONDS) {
        const inWindow = samples.filter((sample) => sample.finishedAt > now - seconds * 1000);
        windows[`${seconds}s`] = periodStats(inWindow, Math.min(seconds, elapsedSeconds));
      }
      result[name] = { sinceStart, windows };
    }
    return result;
  }
}

function periodStats(samples: readonly Sample[], seconds: number): PeriodStats {
  const succeeded = samples.filter((sample) => sample.state === 'succeeded').length;
  return {
    finished: samples.length,
    succeeded,
    failed: samples.length - succeeded,
    throughputPerSecond: round(samples.length / seconds),
    responseMs: latency(samples.map((sample) => sample.responseMs)),
    waitMs: latency(samples.flatMap((sample) => (sample.waitMs === undefined ? [] : [sample.waitMs]))),
    processingMs: latency(samples.flatMap((sample) => (sample.processingMs === undefined ? [] : [sample.processingMs]))),
  };
}

function latency(values: number[]): LatencyStats | undefined {
  if (values.length === 0) return undefined;
  const sorted = values.sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
  return { mean: round(sorted.reduce((sum, value) => sum + value, 0) / sorted.length), p50: at(50), p90: at(90), p99: at(99) };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
