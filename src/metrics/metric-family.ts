/**
 * Metric families as data: what a collector hands the registry, and what the Prometheus text writer
 * (exposition.ts) turns into lines. Collectors build plain values, so any part of Warren can expose
 * metrics without depending on an exporter.
 */

/** Prometheus metric types (text exposition format 0.0.4). */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

/** Label names to values; values may hold any text (the writer escapes them). */
export type MetricLabels = Readonly<Record<string, string>>;

/** One sample line: the family name plus `suffix` ('', '_bucket', '_sum', '_count'), labels and a value. */
export interface MetricSample {
  readonly suffix: '' | '_bucket' | '_sum' | '_count';
  readonly labels: MetricLabels;
  readonly value: number;
}

/** A metric family: one HELP and TYPE line, then its samples. */
export interface MetricFamily {
  /** Full name, e.g. `warren_task_finished_total` (counters end in `_total`, as Prometheus expects). */
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly MetricSample[];
}

/** A source of metric families, asked at every scrape. */
export interface MetricCollector {
  collect(): readonly MetricFamily[] | Promise<readonly MetricFamily[]>;
}

/** Cumulative histogram data: counts per upper bound (not cumulative), the count above the last bound, sum and count. */
export interface HistogramData {
  /** Upper bounds, ascending, without +Inf. */
  readonly upperBounds: readonly number[];
  /** Observations in each bucket alone: bucketCounts[i] counts values in (upperBounds[i-1], upperBounds[i]]. */
  readonly bucketCounts: readonly number[];
  /** Observations above the last bound. */
  readonly overflowCount: number;
  readonly sum: number;
  readonly count: number;
}

/** The `_bucket` (cumulative, ending with le="+Inf"), `_sum` and `_count` samples of one histogram. */
export function histogramSamples(labels: MetricLabels, histogram: HistogramData): MetricSample[] {
  const samples: MetricSample[] = [];
  let cumulative = 0;
  histogram.upperBounds.forEach((upperBound, index) => {
    cumulative += histogram.bucketCounts[index] ?? 0;
    samples.push({ suffix: '_bucket', labels: { ...labels, le: formatBound(upperBound) }, value: cumulative });
  });
  samples.push({ suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: histogram.count });
  samples.push({ suffix: '_sum', labels, value: histogram.sum });
  samples.push({ suffix: '_count', labels, value: histogram.count });
  return samples;
}

/** An `le` label value: the bound as Prometheus clients print it (0.005, 1, 2.5, 3600). */
function formatBound(upperBound: number): string {
  return Number.isFinite(upperBound) ? String(upperBound) : upperBound > 0 ? '+Inf' : '-Inf';
}
