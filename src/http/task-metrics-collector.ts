/**
 * The task layer's Prometheus families (`warren_task_*`), built from the result keeper's cumulative
 * metrics: finished tasks by final state, and wait, processing and response histograms in seconds,
 * labelled by task name. docs/metrics.md lists them.
 */
import { histogramSamples, type MetricCollector, type MetricFamily, type MetricSample } from '../metrics/metric-family.js';
import type { TaskNameMetrics } from '../tasks/task-metrics.js';

/** What the collector reads: the node's result keeper. */
export interface TaskMetricsSource {
  metrics(): ReadonlyMap<string, TaskNameMetrics> | Promise<ReadonlyMap<string, TaskNameMetrics>>;
}

const LATENCIES = [
  ['waitSeconds', 'warren_task_wait_seconds', 'Time from submission to the start of the attempt that finished the task, per task name.'],
  ['processingSeconds', 'warren_task_processing_seconds', 'Time from the start of the attempt that finished the task to its end, per task name.'],
  ['responseSeconds', 'warren_task_response_seconds', 'Time from submission to the end of the task (retries and backoff included), per task name.'],
] as const;

/** A collector of the `warren_task_*` families of `source`. */
export function taskMetricsCollector(source: TaskMetricsSource): MetricCollector {
  return { collect: async () => taskFamilies(await source.metrics()) };
}

/** The task families of a metrics snapshot, task names in sorted order. */
export function taskFamilies(metricsByName: ReadonlyMap<string, TaskNameMetrics>): MetricFamily[] {
  const names = [...metricsByName.keys()].sort();
  const finished: MetricSample[] = names.flatMap((task) =>
    Object.entries(metricsByName.get(task)?.finishedByState ?? {}).map(([state, value]) => ({ suffix: '' as const, labels: { task, state }, value })));
  const families: MetricFamily[] = [{
    name: 'warren_task_finished_total',
    help: 'Tasks finished, by task name and final state (succeeded, failed, dead, cancelled), counted by this result keeper since it started.',
    type: 'counter',
    samples: finished,
  }];
  for (const [field, name, help] of LATENCIES) {
    const samples = names.flatMap((task) => {
      const metrics = metricsByName.get(task);
      return metrics === undefined ? [] : histogramSamples({ task }, metrics[field]);
    });
    families.push({ name, help, type: 'histogram', samples });
  }
  return families;
}
