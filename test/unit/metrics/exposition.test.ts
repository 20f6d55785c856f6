/**
 * The Prometheus text writer and the metrics registry: escaping of help text and label values, value
 * spelling, cumulative histogram buckets, and promtool accepting what is written.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHelp, escapeLabelValue, formatValue, renderPrometheusText } from '../../../src/metrics/exposition.js';
import { histogramSamples, type MetricFamily } from '../../../src/metrics/metric-family.js';
import { MetricsRegistry } from '../../../src/metrics/registry.js';
import { promtoolCheckMetrics, skip as promtoolSkip } from '../../helpers/promtool.js';

const awkward = 'a "quoted" \\ back\\slash\nnew line, ünïcode, {braces}=';

function families(): MetricFamily[] {
  return [
    { name: 'demo_events_total', help: 'Events.\nSecond line with a \\ backslash.', type: 'counter', samples: [
      { suffix: '', labels: { kind: awkward }, value: 3 },
      { suffix: '', labels: { kind: 'plain' }, value: 0 },
    ] },
    { name: 'demo_temperature', help: 'A gauge.', type: 'gauge', samples: [{ suffix: '', labels: {}, value: -1.5e-7 }] },
    { name: 'demo_latency_seconds', help: 'A histogram.', type: 'histogram', samples: histogramSamples({ kind: 'x' }, {
      upperBounds: [0.1, 1, 10], bucketCounts: [2, 0, 3], overflowCount: 1, sum: 42.25, count: 6,
    }) },
    { name: 'demo_empty', help: 'No samples: left out.', type: 'gauge', samples: [] },
  ];
}

test('label values escape backslash, double quote and line feed; help text backslash and line feed', () => {
  assert.equal(escapeLabelValue(awkward), 'a \\"quoted\\" \\\\ back\\\\slash\\nnew line, ünïcode, {braces}=');
  assert.equal(escapeHelp('a "b" \\ c\nd'), 'a "b" \\\\ c\\nd');
});

test('values: NaN, +Inf, -Inf and ordinary numbers as Go parses them', () => {
  assert.deepEqual([NaN, Infinity, -Infinity, 0, 12, 0.25, -1.5e-7].map(formatValue), ['NaN', '+Inf', '-Inf', '0', '12', '0.25', '-1.5e-7']);
});

test('a histogram has cumulative buckets ending in le="+Inf" = count, then _sum and _count', () => {
  const text = renderPrometheusText(families());
  assert.match(text, /^# HELP demo_events_total Events\.\\nSecond line with a \\\\ backslash\.$/m);
  assert.match(text, /^# TYPE demo_latency_seconds histogram$/m);
  const lines = text.split('\n').filter((line) => line.startsWith('demo_latency_seconds'));
  assert.deepEqual(lines, [
    'demo_latency_seconds_bucket{kind="x",le="0.1"} 2',
    'demo_latency_seconds_bucket{kind="x",le="1"} 2',
    'demo_latency_seconds_bucket{kind="x",le="10"} 5',
    'demo_latency_seconds_bucket{kind="x",le="+Inf"} 6',
    'demo_latency_seconds_sum{kind="x"} 42.25',
    'demo_latency_seconds_count{kind="x"} 6',
  ]);
  assert.ok(!text.includes('demo_empty'), 'a family without samples is left out');
  assert.ok(text.endsWith('\n'));
});

test('bad metric or label names are programmer errors', () => {
  assert.throws(() => renderPrometheusText([{ name: 'bad-name', help: '', type: 'gauge', samples: [{ suffix: '', labels: {}, value: 1 }] }]), /bad metric name/);
  assert.throws(() => renderPrometheusText([{ name: 'ok', help: '', type: 'gauge', samples: [{ suffix: '', labels: { '__reserved': 'x' }, value: 1 }] }]), /bad label name/);
});

test('the registry renders its collectors in order and refuses a family collected twice', async () => {
  const registry = new MetricsRegistry()
    .register({ collect: () => families().slice(0, 1) })
    .register({ collect: async () => families().slice(1) });
  assert.deepEqual((await registry.collect()).map((family) => family.name), ['demo_events_total', 'demo_temperature', 'demo_latency_seconds', 'demo_empty']);
  registry.register({ collect: () => families().slice(0, 1) });
  await assert.rejects(registry.render(), /demo_events_total is collected twice/);
});

test('promtool check metrics accepts the output, awkward label values included', { skip: promtoolSkip }, () => {
  const checked = promtoolCheckMetrics(renderPrometheusText(families()));
  assert.equal(checked.status, 0, checked.output);
});
