/**
 * Direct exchange: a message goes to the bindings whose routing key equals its own.
 */
import type { Message } from '../message.js';
import type { UniqueList } from '../unique-list.js';
import { Exchange, type Binding, type Destination } from './exchange.js';

/** Routes by exact routing-key match. */
export class DirectExchange extends Exchange {
  private readonly byRoutingKey = new Map<string, Binding[]>();

  get type(): string {
    return 'direct';
  }

  route(_message: Message, routingKey: string, out: UniqueList<Destination>): void {
    const matches = this.byRoutingKey.get(routingKey);
    if (matches === undefined) return;
    for (const binding of matches) out.add(binding.destination);
  }

  protected addRoute(binding: Binding): void {
    const list = this.byRoutingKey.get(binding.routingKey);
    if (list === undefined) this.byRoutingKey.set(binding.routingKey, [binding]);
    else list.push(binding);
  }

  protected removeRoute(binding: Binding): void {
    const list = this.byRoutingKey.get(binding.routingKey);
    if (list === undefined) return;
    const remaining = list.filter((item) => item !== binding);
    if (remaining.length === 0) this.byRoutingKey.delete(binding.routingKey);
    else this.byRoutingKey.set(binding.routingKey, remaining);
  }
}
