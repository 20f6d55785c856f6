/**
 * RabbitMQ's message_stats for the overview: each counter, and its rate per second over the last
 * sampling interval (RabbitMQ samples every 5 s too). Counters come from the vhosts' MessageStats.
 */
import type { Broker } from '../../broker/broker.js';
import { MESSAGE_STAT_NAMES, MessageStats, sumMessageStats, type MessageStatName } from '../../broker/message-stats.js';

/** How often counters are sampled to compute rates. */
export const RATE_SAMPLE_INTERVAL_MS = 5000;

/** RabbitMQ's JSON name of each counter. */
const JSON_NAMES: Record<MessageStatName, string> = {
  publish: 'publish', deliver: 'deliver', deliverNoAck: 'deliver_no_ack', get: 'get', getNoAck: 'get_no_ack', ack: 'ack',
  redeliver: 'redeliver', confirm: 'confirm', returnUnroutable: 'return_unroutable', dropUnroutable: 'drop_unroutable',
};

/** Samples a broker's counters and answers message_stats with rates. */
export class MessageRates {
  private previous: { at: number; stats: MessageStats } | undefined;
  private rates = new Map<MessageStatName, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly broker: Broker) {}

  /** Starts sampling (the timer does not keep the process alive). */
  start(intervalMs = RATE_SAMPLE_INTERVAL_MS): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes a sample now: rates become the change since the previous sample, per second. */
  sample(now = Date.now()): void {
    const stats = this.totals();
    if (this.previous !== undefined && now > this.previous.at) {
      const seconds = (now - this.previous.at) / 1000;
      for (const name of MESSAGE_STAT_NAMES) this.rates.set(name, (stats[name] - this.previous.stats[name]) / seconds);
    }
    this.previous = { at: now, stats };
  }

  /** The counters summed over every vhost, now. */
  totals(): MessageStats {
    return sumMessageStats([...this.broker.vhosts.values()].map((vhost) => vhost.stats));
  }

  /** RabbitMQ's message_stats object: `publish`, `publish_details: { rate }`, ..., plus `deliver_get`. */
  messageStats(): Record<string, unknown> {
    const stats = this.totals();
    const json: Record<string, unknown> = {};
    const rate = (name: MessageStatName): number => Math.round((this.rates.get(name) ?? 0) * 10) / 10;
    for (const name of MESSAGE_STAT_NAMES) {
      json[JSON_NAMES[name]] = stats[name];
      json[`${JSON_NAMES[name]}_details`] = { rate: rate(name) };
    }
    const deliverGet: MessageStatName[] = ['deliver', 'deliverNoAck', 'get', 'getNoAck'];
    json['deliver_get'] = deliverGet.reduce((sum, name) => sum + stats[name], 0);
    json['deliver_get_details'] = { rate: Math.round(deliverGet.reduce((sum, name) => sum + rate(name), 0) * 10) / 10 };
    return json;
  }
}
