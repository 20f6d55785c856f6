/**
 * Fanout exchange: every bound destination gets every message; routing keys are ignored.
 */
import type { Message } from '../message.js';
import type { UniqueList } from '../unique-list.js';
import { Exchange, type Binding, type Destination } from './exchange.js';

/** Routes to all bindings. */
export class FanoutExchange extends Exchange {
  get type(): string {
    return 'fanout';
  }

  route(_message: Message, _routingKey: string, out: UniqueList<Destination>): void {
    for (const binding of this.bindings.values()) out.add(binding.destination);
  }

  protected addRoute(_binding: Binding): void {}

  protected removeRoute(_binding: Binding): void {}
}
