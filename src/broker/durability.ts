/**
 * Keeps the definitions store in step with a vhost's durable exchanges, queues and bindings, gives
 * durable queues their message stores, and rebuilds a vhost from the store at start.
 */
import type { Binding, Exchange } from './exchange/exchange.js';
import type { Logger } from '../util/logger.js';
import type { Definitions, Persistence, QueueMessageStore, StoredBinding } from './ports.js';
import { Queue } from './queue.js';

/** The predeclared exchanges exist in every vhost and are never stored. */
function isPredeclared(name: string): boolean {
  return name === '' || name.startsWith('amq.');
}

/** Whether a binding survives a restart: RabbitMQ keeps it when both ends are durable. */
function isDurableBinding(binding: Binding): boolean {
  return binding.source.options.durable && binding.destination.options.durable;
}

function storedBinding(vhost: string, binding: Binding): StoredBinding {
  return {
    vhost,
    source: binding.source.name,
    destination: binding.destination.name,
    destinationKind: binding.destination instanceof Queue ? 'queue' : 'exchange',
    routingKey: binding.routingKey,
    arguments: binding.arguments,
  };
}

/** One vhost's link to the node's persistence (a no-op without it). */
export class Durability {
  constructor(
    private readonly vhost: string,
    private readonly persistence: Persistence | undefined,
    private readonly logger: Logger | undefined,
    /** Recovered bodies a queue keeps in memory (its memory window). */
    private readonly bodiesInMemory: number,
  ) {}

  /** Records a newly declared exchange if it is durable. */
  exchangeAdded(exchange: Exchange): void {
    if (this.persistence === undefined || !exchange.options.durable || isPredeclared(exchange.name)) return;
    const { autoDelete, internal, arguments: args } = exchange.options;
    this.persistence.definitions.putExchange({
      vhost: this.vhost, name: exchange.name, type: exchange.type, durable: true, autoDelete, internal, arguments: args,
    });
  }

  /** Forgets a deleted exchange (the store drops its bindings too). */
  exchangeRemoved(exchange: Exchange): void {
    if (this.persistence === undefined || !exchange.options.durable || isPredeclared(exchange.name)) return;
    this.persistence.definitions.deleteExchange(this.vhost, exchange.name);
  }

  /** Records a newly declared durable queue and opens its message store. */
  queueAdded(queue: Queue): void {
    if (this.persistence === undefined || !queue.options.durable) return;
    const { autoDelete, arguments: args } = queue.options;
    this.persistence.definitions.putQueue({ vhost: this.vhost, name: queue.name, durable: true, autoDelete, arguments: args });
    this.attachStore(queue);
  }

  /** Forgets a deleted durable queue (its message store is destroyed with the queue). */
  queueRemoved(queue: Queue): void {
    if (this.persistence === undefined || !queue.options.durable) return;
    this.persistence.definitions.deleteQueue(this.vhost, queue.name);
  }

  /** Records a new binding between durable ends. */
  bindingAdded(binding: Binding): void {
    if (this.persistence === undefined || !isDurableBinding(binding)) return;
    this.persistence.definitions.putBinding(storedBinding(this.vhost, binding));
  }

  /** Forgets an unbound binding between durable ends. */
  bindingRemoved(binding: Binding): void {
    if (this.persistence === undefined || !isDurableBinding(binding)) return;
    this.persistence.definitions.deleteBinding(storedBinding(this.vhost, binding));
  }

  /** Opens a durable queue's message store and loads the messages it recovered. */
  attachStore(queue: Queue): void {
    if (this.persistence === undefined) return;
    const { store, recovery } = this.persistence.messages.openQueue(this.vhost, queue.name, this.bodiesInMemory);
    if (recovery.droppedRecords > 0 || recovery.warnings.length > 0) {
      this.logger?.warn(
        { vhost: this.vhost, queue: queue.name, droppedRecords: recovery.droppedRecords, warnings: recovery.warnings },
        'queue recovered with losses',
      );
    }
    queue.attachStore(store, recovery);
  }

  /** A store for a non-durable queue to page its backlog out to, or undefined without persistence. */
  openPagingStore(queue: Queue): QueueMessageStore | undefined {
    return this.persistence?.messages.openTransientQueue(this.vhost, queue.name);
  }
}

/** The parts of a vhost that restoring needs. */
export interface RestorableVhost {
  readonly name: string;
  restoreExchange(name: string, type: string, options: Exchange['options']): void;
  restoreQueue(name: string, options: Queue['options']): void;
  restoreBinding(binding: StoredBinding): void;
  /** Takes back the messages durable delayed exchanges held, once their exchanges and queues exist. */
  restoreDelayedMessages(): void;
}

/** Rebuilds one vhost's durable exchanges, queues (with their messages) and bindings. */
export function restoreVhost(vhost: RestorableVhost, definitions: Definitions): void {
  for (const exchange of definitions.exchanges) {
    if (exchange.vhost !== vhost.name) continue;
    const { autoDelete, internal, arguments: args } = exchange;
    vhost.restoreExchange(exchange.name, exchange.type, { durable: true, autoDelete, internal, arguments: args });
  }
  for (const queue of definitions.queues) {
    if (queue.vhost !== vhost.name) continue;
    vhost.restoreQueue(queue.name, { durable: true, exclusiveOwner: null, autoDelete: queue.autoDelete, arguments: queue.arguments });
  }
  for (const binding of definitions.bindings) if (binding.vhost === vhost.name) vhost.restoreBinding(binding);
  vhost.restoreDelayedMessages();
}
