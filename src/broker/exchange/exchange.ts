/**
 * The parts every exchange type shares: its declared options and the bindings it is the source of.
 * Each type decides how a routing key and headers select destinations.
 */
import type { FieldTable } from '../../codec/index.js';
import type { Policy } from '../policies.js';
import type { Message } from '../message.js';
import type { Queue } from '../queue.js';
import { tableKey } from '../arguments.js';
import type { UniqueList } from '../unique-list.js';

/** Where a binding leads: a queue, or another exchange (exchange-to-exchange binding). */
export type Destination = Queue | Exchange;

/** The declared shape of an exchange, compared on redeclaration. */
export interface ExchangeOptions {
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

/** A binding from an exchange to a destination. */
export interface Binding {
  readonly source: Exchange;
  readonly destination: Destination;
  readonly routingKey: string;
  readonly arguments: FieldTable;
  /** Identity of the binding among the source's bindings. */
  readonly key: string;
}

/** Builds the identity key of a binding. */
export function bindingKey(destination: Destination, routingKey: string, args: FieldTable): string {
  const kind = destination instanceof Exchange ? 'e' : 'q';
  return `${kind}\u0000${destination.name}\u0000${routingKey}\u0000${tableKey(args)}`;
}

/** Base of every exchange type. */
export abstract class Exchange {
  /** Bindings this exchange is the source of, by binding key. */
  readonly bindings = new Map<string, Binding>();
  /** Set once deleted. */
  deleted = false;
  /** The policy that applies, if any (its alternate-exchange is used when the arguments name none). */
  policy: Policy | undefined;

  constructor(
    readonly vhost: string,
    readonly name: string,
    readonly options: ExchangeOptions,
  ) {}

  /** The exchange type name as declared ("direct", "topic", ...). */
  abstract get type(): string;

  /** The type whose routing rules apply: the declared type, except for x-delayed-message (its x-delayed-type). */
  get routingType(): string {
    return this.type;
  }

  /** Adds the destinations this message routes to (not following exchange-to-exchange links). */
  abstract route(message: Message, routingKey: string, out: UniqueList<Destination>): void;

  /** Index a new binding for routing. */
  protected abstract addRoute(binding: Binding): void;

  /** Remove a binding from the routing index. */
  protected abstract removeRoute(binding: Binding): void;

  /** Adds a binding; returns false when an identical one exists. */
  bind(binding: Binding): boolean {
    if (this.bindings.has(binding.key)) return false;
    this.bindings.set(binding.key, binding);
    this.addRoute(binding);
    return true;
  }

  /** Removes a binding by key; returns it, or undefined when absent. */
  unbind(key: string): Binding | undefined {
    const binding = this.bindings.get(key);
    if (binding === undefined) return undefined;
    this.bindings.delete(key);
    this.removeRoute(binding);
    return binding;
  }
}
