/**
 * Topic exchange: binding keys are dot-separated patterns with `*` (one word) and `#` (zero or more).
 */
import type { Message } from '../message.js';
import { TopicMatcher } from '../topic-matcher.js';
import { UniqueList } from '../unique-list.js';
import { Exchange, type Binding, type Destination } from './exchange.js';

/** Routes by pattern match on the routing key. */
export class TopicExchange extends Exchange {
  private readonly matcher = new TopicMatcher<Binding>();
  private readonly matched = new UniqueList<Binding>();

  get type(): string {
    return 'topic';
  }

  route(_message: Message, routingKey: string, out: UniqueList<Destination>): void {
    this.matched.clear();
    this.matcher.match(routingKey, this.matched);
    for (let i = 0; i < this.matched.size; i++) out.add(this.matched.at(i).destination);
    this.matched.clear();
  }

  protected addRoute(binding: Binding): void {
    this.matcher.add(binding.routingKey, binding);
  }

  protected removeRoute(binding: Binding): void {
    this.matcher.remove(binding.routingKey, binding);
  }
}
