/**
 * The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` per family, then one line
 * per sample, with label values and help text escaped. Names are checked: a bad one is a programmer
 * error (collectors choose names, never peers).
 */
import { assert } from '../util/assert.js';
import type { MetricFamily, MetricLabels, MetricSample } from './metric-family.js';

/** The Content-Type of the text format. */
export const PROMETHEUS_TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The families as Prometheus text; families without samples are left out. */
export function renderPrometheusText(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.samples.length === 0) continue;
    assert(METRIC_NAME.test(family.name), `bad metric name ${JSON.stringify(family.name)}`);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) lines.push(sampleLine(family.name, sample));
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function sampleLine(familyName: string, sample: MetricSample): string {
  return `${familyName}${sample.suffix}${labelSet(sample.labels)} ${formatValue(sample.value)}`;
}

function labelSet(labels: MetricLabels): string {
  const pairs = Object.entries(labels);
  if (pairs.length === 0) return '';
  return `{${pairs.map(([name, value]) => {
    assert(LABEL_NAME.test(name) && !name.startsWith('__'), `bad label name ${JSON.stringify(name)}`);
    return `${name}="${escapeLabelValue(value)}"`;
  }).join(',')}}`;
}

/** A label value with backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (character) => (character === '\n' ? '\\n' : `\\${character}`));
}

/** Help text with backslash and line feed escaped. */
export function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (character) => (character === '\n' ? '\\n' : '\\\\'));
}

/** A sample value as the format spells it: NaN, +Inf, -Inf, or a Go-parsable float. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
