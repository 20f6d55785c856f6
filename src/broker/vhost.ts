/**
 * A virtual host: its exchanges, queues and the bindings between them, with RabbitMQ's rules for
 * declaring, deleting, binding and routing.
 */
import { randomBytes } from 'node:crypto';
import type { FieldTable } from '../codec/index.js';
import { describeInequivalence, fieldValuesEqual, stringValue } from './arguments.js';
import { validateExchangeArguments, validateHeadersBinding, validateQueueArguments } from './argument-validation.js';
import { accessRefused, commandInvalid, notFound, preconditionFailed, resourceLocked } from './errors.js';
import { DelayScheduler } from './delay-scheduler.js';
import { DELAYED_EXCHANGE_TYPE, DelayedExchange, validateDelayedType } from './exchange/delayed.js';
import { DirectExchange } from './exchange/direct.js';
import { Exchange, bindingKey, type Binding, type Destination, type ExchangeOptions } from './exchange/exchange.js';
import { FanoutExchange } from './exchange/fanout.js';
import { HeadersExchange } from './exchange/headers.js';
import { TopicExchange } from './exchange/topic.js';
import type { Message } from './message.js';
import { deadLetteredMessage, isDeadLetterCycle, type DeadLetterReason } from './dead-letter.js';
import { Durability, type RestorableVhost } from './durability.js';
import { MessageStats } from './message-stats.js';
import { VhostPolicies } from './policies.js';
import type { Persistence, QueueMessageStore, StoredBinding } from './ports.js';
import type { FlowControlPolicy } from './publisher-throttle.js';
import type { ResourceAlarm } from './resource-alarm.js';
import type { Logger } from '../util/logger.js';
import { Queue, type QueueOptions, type QueueOwner } from './queue.js';
import { UniqueList } from './unique-list.js';

const EXCHANGE_TYPES: Record<string, new (vhost: string, name: string, options: ExchangeOptions) => Exchange> = {
  direct: DirectExchange,
  fanout: FanoutExchange,
  topic: TopicExchange,
  headers: HeadersExchange,
  [DELAYED_EXCHANGE_TYPE]: DelayedExchange,
};

/** Queue arguments compared when a queue is redeclared (others are accepted as RabbitMQ does). */
const QUEUE_EQUIVALENCE_ARGUMENTS = [
  'x-expires', 'x-message-ttl', 'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-max-length',
  'x-max-length-bytes', 'x-max-priority', 'x-overflow', 'x-queue-mode', 'x-queue-type', 'x-single-active-consumer',
  'x-delivery-limit', 'x-queue-master-locator', 'x-queue-leader-locator',
];
/** Exchange arguments compared when an exchange is redeclared. */
const EXCHANGE_EQUIVALENCE_ARGUMENTS = ['alternate-exchange'];

/** Result of queue.declare. */
export interface QueueDeclareResult {
  queue: Queue;
  messageCount: number;
  consumerCount: number;
}

/** Flags for queue.delete. */
export interface QueueDeleteOptions {
  ifUnused: boolean;
  ifEmpty: boolean;
}

/** Where a direct reply-to reply goes: the requesting channel's reply consumer. */
export interface ReplyTarget {
  deliverReply(routingKey: string, message: Message): void;
}

/** One virtual host. */
export class Vhost implements QueueOwner, RestorableVhost {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** Direct reply-to consumers by reply name (amq.rabbitmq.reply-to.*). */
  readonly replyTargets = new Map<string, ReplyTarget>();
  /** Message counters (RabbitMQ's message_stats), bumped by the channels working in this vhost. */
  readonly stats = new MessageStats();
  /** The vhost's policies (set through Broker.putPolicy / deletePolicy, which also store them). */
  readonly policies = new VhostPolicies();
  private readonly routed = new UniqueList<Destination>();
  private readonly visitedExchanges = new UniqueList<Exchange>();
  /** Messages x-delayed-message exchanges hold until their x-delay has passed. */
  readonly delayedMessages: DelayScheduler;
  private readonly durability: Durability;
  private readonly persistence: Persistence | undefined;

  constructor(
    readonly name: string,
    private readonly flowControl: FlowControlPolicy,
    /** The node's memory accounting, shared by every queue. */
    readonly alarms: ResourceAlarm,
    persistence?: Persistence,
    logger?: Logger,
  ) {
    this.durability = new Durability(name, persistence, logger, alarms.queueWindowMessages);
    this.persistence = persistence;
    this.delayedMessages = new DelayScheduler(this, alarms, persistence, logger);
    const durable = { durable: true, autoDelete: false, internal: false, arguments: {} };
    this.addExchange('', 'direct', durable);
    this.addExchange('amq.direct', 'direct', durable);
    this.addExchange('amq.fanout', 'fanout', durable);
    this.addExchange('amq.topic', 'topic', durable);
    this.addExchange('amq.headers', 'headers', durable);
    this.addExchange('amq.match', 'headers', durable);
  }

  /** Calls onDurable once every persistent message and acknowledgement written so far is on disk (group commit). */
  syncMessages(onDurable: (error: Error | undefined) => void): void {
    if (this.persistence === undefined) onDurable(undefined);
    else this.persistence.messages.sync(onDurable);
  }

  /** Calls onDurable once every persistent message written so far is on disk: what publisher confirms wait for. */
  syncAppendedMessages(onDurable: (error: Error | undefined) => void): void {
    if (this.persistence === undefined) onDurable(undefined);
    else this.persistence.messages.syncAppended(onDurable);
  }

  /** True when the name is a known exchange type. */
  static isExchangeType(type: string): boolean {
    return Object.hasOwn(EXCHANGE_TYPES, type);
  }

  /** exchange.declare (passive or not). */
  declareExchange(name: string, type: string, options: ExchangeOptions, passive: boolean): Exchange {
    if (passive) return this.exchange(name);
    if (name === '') throw accessRefused('operation not permitted on the default exchange');
    if (!Vhost.isExchangeType(type)) throw commandInvalid(`unknown exchange type '${type}'`);
    validateExchangeArguments(options.arguments, this.describeExchange(name));
    if (type === DELAYED_EXCHANGE_TYPE) validateDelayedType(options.arguments, Vhost.isExchangeType);
    const existing = this.exchanges.get(name);
    if (existing !== undefined) {
      // Predeclared amq.* exchanges may be redeclared with the same attributes.
      this.assertExchangeEquivalent(existing, type, options);
      return existing;
    }
    if (name.startsWith('amq.')) throw accessRefused(`exchange name '${name}' contains reserved prefix 'amq.*'`);
    const exchange = this.addExchange(name, type, options);
    this.durability.exchangeAdded(exchange);
    this.delayedMessages.open(exchange);
    return exchange;
  }

  /** exchange.delete; deleting a missing exchange succeeds, as in RabbitMQ. */
  deleteExchange(name: string, ifUnused: boolean): void {
    if (name === '' || name.startsWith('amq.')) {
      throw accessRefused(`operation not permitted on the ${name === '' ? 'default' : 'predeclared'} exchange`);
    }
    const exchange = this.exchanges.get(name);
    if (exchange === undefined) return;
    if (ifUnused && exchange.bindings.size > 0) throw preconditionFailed(`${this.describeExchange(name)} in use`);
    this.removeExchange(exchange);
  }

  /** queue.declare (passive or not); an empty name gets `serverName` (or a freshly generated one). */
  declareQueue(name: string, options: QueueOptions, passive: boolean, connectionId: number, serverName?: string): QueueDeclareResult {
    if (passive) {
      const queue = this.queueFor(name, connectionId);
      return { queue, messageCount: queue.messageCount, consumerCount: queue.consumerCount };
    }
    const queueName = name === '' ? (serverName ?? generateQueueName()) : name;
    if (name.startsWith('amq.')) throw accessRefused(`queue name '${name}' contains reserved prefix 'amq.*'`);
    validateQueueArguments(options.arguments, this.describeQueue(queueName));
    let queue = this.queues.get(queueName);
    if (queue === undefined) {
      queue = new Queue(this.name, queueName, options, this, this.flowControl, this.alarms);
      queue.applyPolicy(this.policies.match('queue', queueName));
      this.queues.set(queueName, queue);
      this.durability.queueAdded(queue);
      // Every queue is bound to the default exchange under its own name; routing does that implicitly.
    } else {
      this.assertExclusiveAccess(queue, connectionId);
      // A different exclusive flag is reported as a lock conflict, as RabbitMQ does.
      if ((queue.options.exclusiveOwner !== null) !== (options.exclusiveOwner !== null)) this.throwLocked(queue);
      this.assertQueueEquivalent(queue, options);
      queue.redeclared();
    }
    return { queue, messageCount: queue.messageCount, consumerCount: queue.consumerCount };
  }

  /** queue.delete; returns the number of messages dropped. A missing queue is not an error. */
  deleteQueue(name: string, flags: QueueDeleteOptions, connectionId: number): number {
    const queue = this.queues.get(name);
    if (queue === undefined) return 0;
    this.assertExclusiveAccess(queue, connectionId);
    if (flags.ifUnused && queue.consumerCount > 0) throw preconditionFailed(`${this.describeQueue(name)} in use`);
    if (flags.ifEmpty && queue.messageCount > 0) throw preconditionFailed(`${this.describeQueue(name)} is not empty`);
    return this.removeQueue(queue);
  }

  /** queue.purge; returns the number of messages dropped. */
  purgeQueue(name: string, connectionId: number): number {
    return this.queueFor(name, connectionId).purge();
  }

  /** queue.bind. */
  bindQueue(queueName: string, exchangeName: string, routingKey: string, args: FieldTable, connectionId: number): void {
    const queue = this.queueFor(queueName, connectionId);
    const source = this.bindableExchange(exchangeName);
    if (source.routingType === 'headers') validateHeadersBinding(args);
    this.addBinding(source, queue, routingKey, args);
  }

  /** queue.unbind; unbinding a binding that does not exist succeeds, even when its queue or exchange is missing. */
  unbindQueue(queueName: string, exchangeName: string, routingKey: string, args: FieldTable, connectionId: number): void {
    if (exchangeName === '') throw accessRefused('operation not permitted on the default exchange');
    const queue = this.queues.get(queueName);
    const source = this.exchanges.get(exchangeName);
    if (queue === undefined || source === undefined) return;
    this.assertExclusiveAccess(queue, connectionId);
    this.removeBinding(source, bindingKey(queue, routingKey, args));
  }

  /** exchange.bind (exchange-to-exchange). */
  bindExchange(destinationName: string, sourceName: string, routingKey: string, args: FieldTable): void {
    const destination = this.bindableExchange(destinationName);
    const source = this.bindableExchange(sourceName);
    this.addBinding(source, destination, routingKey, args);
  }

  /** exchange.unbind; unbinding a binding that does not exist succeeds, even when an exchange is missing. */
  unbindExchange(destinationName: string, sourceName: string, routingKey: string, args: FieldTable): void {
    if (destinationName === '' || sourceName === '') throw accessRefused('operation not permitted on the default exchange');
    const destination = this.exchanges.get(destinationName);
    const source = this.exchanges.get(sourceName);
    if (destination === undefined || source === undefined) return;
    this.removeBinding(source, bindingKey(destination, routingKey, args));
  }

  /** The exchange a basic.publish names, checked for existence and for not being internal. */
  exchangeForPublish(name: string): Exchange {
    const exchange = this.exchange(name);
    if (exchange.options.internal) {
      throw accessRefused(`cannot publish to internal ${this.describeExchange(name)}`);
    }
    return exchange;
  }

  /**
   * Routes a message through an exchange (following exchange-to-exchange bindings) and returns every
   * queue it reaches, each once, in `into` (which the caller reuses between calls).
   */
  route(exchange: Exchange, message: Message, into: Queue[]): Queue[] {
    // Popped, not truncated with `length = 0`: that is a runtime call costing more than a whole direct route.
    while (into.length > 0) into.pop();
    if (exchange.name === '' && message.extraRoutingKeys.length === 0) {
      const queue = this.queues.get(message.routingKey);
      if (queue !== undefined) into.push(queue);
    } else {
      this.collectDestinations(exchange, message, into);
    }
    return into;
  }

  /** A queue by name, checked for existence and exclusive ownership. */
  queueFor(name: string, connectionId: number): Queue {
    const queue = this.queues.get(name);
    if (queue === undefined) throw notFound(`no ${this.describeQueue(name)}`);
    this.assertExclusiveAccess(queue, connectionId);
    return queue;
  }

  /** An exchange by name. */
  exchange(name: string): Exchange {
    const exchange = this.exchanges.get(name);
    if (exchange === undefined) throw notFound(`no ${this.describeExchange(name)}`);
    return exchange;
  }

  /** Deletes the exclusive queues a closing connection owned. */
  deleteExclusiveQueues(connectionId: number): void {
    for (const queue of [...this.queues.values()]) {
      if (queue.options.exclusiveOwner === connectionId) this.removeQueue(queue);
    }
  }

  autoDeleteQueue(queue: Queue): void {
    if (this.queues.get(queue.name) === queue) this.removeQueue(queue);
  }

  openPagingStore(queue: Queue): QueueMessageStore | undefined {
    return this.durability.openPagingStore(queue);
  }

  /**
   * Republishes a message a queue discarded to the queue's dead-letter exchange. A missing exchange,
   * like no route, drops it silently, as RabbitMQ does; so does a dead-letter cycle without a rejection.
   */
  deadLetter(queue: Queue, message: Message, reason: DeadLetterReason): void {
    const { deadLetterExchange, deadLetterRoutingKey } = queue.settings;
    if (deadLetterExchange === undefined) return;
    const exchange = this.exchanges.get(deadLetterExchange);
    if (exchange === undefined) return;
    const target = { exchange: deadLetterExchange, routingKey: deadLetterRoutingKey };
    const dead = deadLetteredMessage(message, queue.name, reason, target, new Date());
    // As with the plugin, a dead-letter exchange of type x-delayed-message delays a message with an x-delay.
    if (this.delayedMessages.hold(exchange, dead) !== undefined) return;
    // A fresh array: enqueueing can dead-letter again (a full target queue) before this loop ends.
    for (const destination of this.route(exchange, dead, [])) {
      if (!destination.deleted && !isDeadLetterCycle(dead, reason, destination.name)) destination.enqueue(dead);
    }
  }

  private collectDestinations(exchange: Exchange, message: Message, into: Queue[]): void {
    const routed = this.routed;
    const visited = this.visitedExchanges;
    routed.clear();
    visited.clear();
    visited.add(exchange);
    this.routeThrough(exchange, message, routed);
    // Destinations added during the loop are visited too (the length is read each time), which follows exchange chains.
    for (let i = 0; i < routed.size; i++) {
      const destination = routed.at(i);
      if (destination instanceof Queue) into.push(destination);
      else if (!visited.has(destination)) {
        visited.add(destination);
        this.routeThrough(destination, message, routed);
      }
    }
    routed.clear();
    visited.clear();
  }

  /** Routes through one exchange; when it routes nowhere, its alternate exchange (if any) takes the message. */
  private routeThrough(exchange: Exchange, message: Message, routed: UniqueList<Destination>): void {
    const before = routed.size;
    this.routeWithEveryKey(exchange, message, routed);
    if (routed.size !== before) return;
    const alternateName = alternateExchangeOf(exchange);
    const alternate = alternateName === undefined ? undefined : this.exchanges.get(alternateName);
    if (alternate !== undefined) routed.add(alternate);
  }

  private routeWithEveryKey(exchange: Exchange, message: Message, routed: UniqueList<Destination>): void {
    this.routeWithKey(exchange, message, message.routingKey, routed);
    for (const key of message.extraRoutingKeys) this.routeWithKey(exchange, message, key, routed);
  }

  private routeWithKey(exchange: Exchange, message: Message, routingKey: string, routed: UniqueList<Destination>): void {
    if (exchange.name !== '') {
      exchange.route(message, routingKey, routed);
      return;
    }
    const queue = this.queues.get(routingKey);
    if (queue !== undefined) routed.add(queue);
  }

  private bindableExchange(name: string): Exchange {
    if (name === '') throw accessRefused('operation not permitted on the default exchange');
    return this.exchange(name);
  }

  private addBinding(source: Exchange, destination: Destination, routingKey: string, args: FieldTable): void {
    const binding = makeBinding(source, destination, routingKey, args);
    if (source.bind(binding)) this.durability.bindingAdded(binding);
  }

  private removeBinding(source: Exchange, key: string): void {
    const binding = source.unbind(key);
    if (binding === undefined) return;
    this.durability.bindingRemoved(binding);
    this.maybeAutoDeleteExchange(source);
  }

  restoreExchange(name: string, type: string, options: ExchangeOptions): void {
    if (!this.exchanges.has(name) && Vhost.isExchangeType(type)) this.addExchange(name, type, options);
  }

  restoreQueue(name: string, options: QueueOptions): void {
    if (this.queues.has(name)) return;
    const queue = new Queue(this.name, name, options, this, this.flowControl, this.alarms);
    queue.applyPolicy(this.policies.match('queue', name));
    this.queues.set(name, queue);
    this.durability.attachStore(queue);
  }

  /** Re-evaluates which policy applies to every queue and exchange (after a policy changed). */
  reapplyPolicies(): void {
    for (const queue of this.queues.values()) {
      const policy = this.policies.match('queue', queue.name);
      if (policy !== queue.policy) queue.applyPolicy(policy);
    }
    for (const exchange of this.exchanges.values()) exchange.policy = this.policies.match('exchange', exchange.name);
  }

  /** Takes back the held messages of the restored durable delayed exchanges (after exchanges and queues). */
  restoreDelayedMessages(): void {
    for (const exchange of this.exchanges.values()) this.delayedMessages.open(exchange);
  }

  restoreBinding(stored: StoredBinding): void {
    const source = this.exchanges.get(stored.source);
    const destination = stored.destinationKind === 'queue' ? this.queues.get(stored.destination) : this.exchanges.get(stored.destination);
    if (source === undefined || destination === undefined) return;
    source.bind(makeBinding(source, destination, stored.routingKey, stored.arguments));
  }

  private maybeAutoDeleteExchange(exchange: Exchange): void {
    if (exchange.options.autoDelete && exchange.bindings.size === 0 && !exchange.deleted) this.removeExchange(exchange);
  }

  private removeQueue(queue: Queue): number {
    this.queues.delete(queue.name);
    this.durability.queueRemoved(queue);
    this.removeBindingsTo(queue);
    return queue.markDeleted();
  }

  private removeExchange(exchange: Exchange): void {
    exchange.deleted = true;
    this.exchanges.delete(exchange.name);
    this.durability.exchangeRemoved(exchange);
    this.delayedMessages.exchangeRemoved(exchange);
    for (const key of [...exchange.bindings.keys()]) exchange.unbind(key);
    this.removeBindingsTo(exchange);
  }

  private removeBindingsTo(destination: Destination): void {
    for (const source of [...this.exchanges.values()]) {
      let removed = false;
      for (const binding of [...source.bindings.values()]) {
        if (binding.destination === destination) removed = source.unbind(binding.key) !== undefined || removed;
      }
      if (removed) this.maybeAutoDeleteExchange(source);
    }
  }

  private addExchange(name: string, type: string, options: ExchangeOptions): Exchange {
    const ExchangeType = EXCHANGE_TYPES[type];
    if (ExchangeType === undefined) throw commandInvalid(`unknown exchange type '${type}'`);
    const exchange = new ExchangeType(this.name, name, options);
    exchange.policy = this.policies.match('exchange', name);
    this.exchanges.set(name, exchange);
    return exchange;
  }

  private assertExchangeEquivalent(existing: Exchange, type: string, options: ExchangeOptions): void {
    const subject = this.describeExchange(existing.name);
    assertSame('type', existing.type, type, subject);
    assertSame('durable', existing.options.durable, options.durable, subject);
    assertSame('auto_delete', existing.options.autoDelete, options.autoDelete, subject);
    assertSame('internal', existing.options.internal, options.internal, subject);
    assertArgumentsEquivalent(existing.options.arguments, options.arguments, EXCHANGE_EQUIVALENCE_ARGUMENTS, subject);
  }

  private assertQueueEquivalent(queue: Queue, options: QueueOptions): void {
    const subject = this.describeQueue(queue.name);
    assertSame('durable', queue.options.durable, options.durable, subject);
    assertSame('auto_delete', queue.options.autoDelete, options.autoDelete, subject);
    assertArgumentsEquivalent(queue.options.arguments, options.arguments, QUEUE_EQUIVALENCE_ARGUMENTS, subject);
  }

  private assertExclusiveAccess(queue: Queue, connectionId: number): void {
    const owner = queue.options.exclusiveOwner;
    if (owner !== null && owner !== connectionId) this.throwLocked(queue);
  }

  private throwLocked(queue: Queue): never {
    throw resourceLocked(
      `cannot obtain exclusive access to locked ${this.describeQueue(queue.name)}. It could be originally ` +
        'declared on another connection or the exclusive property value does not match that of the original declaration.',
    );
  }

  private describeQueue(name: string): string {
    return `queue '${name}' in vhost '${this.name}'`;
  }

  private describeExchange(name: string): string {
    return `exchange '${name}' in vhost '${this.name}'`;
  }
}

function assertSame(field: string, current: string | boolean, received: string | boolean, subject: string): void {
  if (current !== received) {
    throw preconditionFailed(`inequivalent arg '${field}' for ${subject}: received '${received}' but current is '${current}'`);
  }
}

function assertArgumentsEquivalent(current: FieldTable, received: FieldTable, keys: string[], subject: string): void {
  for (const key of keys) {
    if (!fieldValuesEqual(current[key], received[key])) {
      throw preconditionFailed(
        `inequivalent arg '${key}' for ${subject}: ${describeInequivalence(received[key], current[key])}`,
      );
    }
  }
}

function makeBinding(source: Exchange, destination: Destination, routingKey: string, args: FieldTable): Binding {
  return { source, destination, routingKey, arguments: args, key: bindingKey(destination, routingKey, args) };
}

/** A server-generated queue name in RabbitMQ's format: amq.gen- and 22 url-safe characters. */
export function generateQueueName(): string {
  return `amq.gen-${randomBytes(16).toString('base64url').slice(0, 22)}`;
}

/** The alternate exchange of an exchange: its alternate-exchange argument, else its policy's. */
function alternateExchangeOf(exchange: Exchange): string | undefined {
  const fromPolicy = exchange.policy?.definition['alternate-exchange'];
  return stringValue(exchange.options.arguments['alternate-exchange']) ?? (typeof fromPolicy === 'string' ? fromPolicy : undefined);
}
