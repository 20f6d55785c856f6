/**
 * The registry behind `/metrics`: collectors register once, and every scrape asks each of them for its
 * families. The task layer's collector is one; the broker's (issue 7, RabbitMQ's `rabbitmq_*` names)
 * registers beside it without changing anything here.
 */
import { renderPrometheusText } from './exposition.js';
import type { MetricCollector, MetricFamily } from './metric-family.js';

/** A set of collectors, rendered together. */
export class MetricsRegistry {
  private readonly collectors: MetricCollector[] = [];

  /** Adds a collector; its families follow those of collectors registered earlier. */
  register(collector: MetricCollector): this {
    this.collectors.push(collector);
    return this;
  }

  /** Every collector's families, in registration order; a family name given twice is an error. */
  async collect(): Promise<MetricFamily[]> {
    const families: MetricFamily[] = [];
    const names = new Set<string>();
    for (const collector of this.collectors) {
      for (const family of await collector.collect()) {
        if (names.has(family.name)) throw new Error(`metric family ${family.name} is collected twice`);
        names.add(family.name);
        families.push(family);
      }
    }
    return families;
  }

  /** The Prometheus text of every family. */
  async render(): Promise<string> {
    return renderPrometheusText(await this.collect());
  }
}
