/**
 * Cumulative task metrics per task name, for Prometheus (`/metrics`): tasks finished by final state,
 * and histograms of wait (submit to start), processing (start to finish) and response (submit to finish)
 * time in seconds. Unlike the sliding windows of task-stats.ts they only ever grow, so Prometheus can
 * take rates and quantiles over any range, and sum them over several keepers (each counts the events it
 * consumed). TaskStats feeds it every run it counts, so a redelivered terminal event counts once.
 */
import { TERMINAL_STATES } from './protocol.js';
import type { TaskRecord } from './store/result-store.js';

/** Upper bounds of the latency buckets, in seconds: 5 ms to an hour (tasks may wait out long backoffs). */
export const TASK_LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
];

/** Most task names tracked; finished tasks of further names are not counted (bounded memory and series). */
export const TASK_METRICS_NAMES_MAX = 10_000;

/** One latency's cumulative histogram, in seconds. */
export interface LatencyHistogram {
  readonly upperBounds: readonly number[];
  /** Observations in each bucket alone (not cumulative), one per upper bound. */
  readonly bucketCounts: number[];
  /** Observations above the last bound. */
  overflowCount: number;
  sum: number;
  count: number;
}

/** One task name's cumulative metrics. */
export interface TaskNameMetrics {
  /** Tasks finished, by final state (every terminal state present, 0 when none). */
  readonly finishedByState: Record<string, number>;
  readonly waitSeconds: LatencyHistogram;
  readonly processingSeconds: LatencyHistogram;
  readonly responseSeconds: LatencyHistogram;
}

/** Cumulative per-name counters and histograms of finished tasks. */
export class TaskMetrics {
  private readonly byName = new Map<string, TaskNameMetrics>();
  /** The name last counted and its metrics (finished tasks mostly come in runs of one name; see TaskStats). */
  private lastName: string | undefined;
  private lastMetrics: TaskNameMetrics | undefined;

  /** Counts a finished task (its record after the terminal event); the caller counts each run once. */
  record(task: TaskRecord): void {
    if (task.finishedAt === undefined) return;
    const metrics = this.metricsOf(task.name);
    if (metrics === undefined) return;
    metrics.finishedByState[task.state] = (metrics.finishedByState[task.state] ?? 0) + 1;
    observe(metrics.responseSeconds, task.finishedAt - task.createdAt);
    if (task.startedAt === undefined) return;
    observe(metrics.waitSeconds, task.startedAt - task.createdAt);
    observe(metrics.processingSeconds, task.finishedAt - task.startedAt);
  }

  /** A copy of every name's metrics, by task name. */
  snapshot(): Map<string, TaskNameMetrics> {
    return new Map([...this.byName].map(([name, metrics]) => [name, structuredClone(metrics)]));
  }

  private metricsOf(name: string): TaskNameMetrics | undefined {
    if (name === this.lastName) return this.lastMetrics;
    const known = this.byName.get(name);
    if (known !== undefined) {
      this.lastName = name;
      this.lastMetrics = known;
      return known;
    }
    if (this.byName.size >= TASK_METRICS_NAMES_MAX) return undefined;
    const metrics: TaskNameMetrics = {
      finishedByState: Object.fromEntries(TERMINAL_STATES.map((state) => [state, 0])),
      waitSeconds: emptyHistogram(),
      processingSeconds: emptyHistogram(),
      responseSeconds: emptyHistogram(),
    };
    this.byName.set(name, metrics);
    return metrics;
  }
}

function emptyHistogram(): LatencyHistogram {
  return { upperBounds: TASK_LATENCY_BUCKETS_SECONDS, bucketCounts: TASK_LATENCY_BUCKETS_SECONDS.map(() => 0), overflowCount: 0, sum: 0, count: 0 };
}

/**
 * Adds a duration in ms. A negative one (the submitter's and the worker's clocks disagree) counts as 0:
 * a histogram's sum must not decrease.
 */
function observe(histogram: LatencyHistogram, durationMs: number): void {
  const seconds = Math.max(0, durationMs) / 1000;
  const index = histogram.upperBounds.findIndex((upperBound) => seconds <= upperBound);
  if (index < 0) histogram.overflowCount++;
  else histogram.bucketCounts[index] = (histogram.bucketCounts[index] ?? 0) + 1;
  histogram.sum += seconds;
  histogram.count++;
}
