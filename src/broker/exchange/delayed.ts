/**
 * Delayed message exchange (type "x-delayed-message"), compatible with RabbitMQ's
 * rabbitmq_delayed_message_exchange plugin: bindings and routing behave like the exchange type named
 * by the `x-delayed-type` argument, and a message published with a positive `x-delay` header (ms) is
 * held back and routed only when its delay has passed (see ../delay-scheduler.ts).
 */
import { Decimal, type FieldTable, type FieldValue } from '../../codec/index.js';
import { stringValue } from '../arguments.js';
import { commandInvalid, preconditionFailed } from '../errors.js';
import type { Message } from '../message.js';
import { DirectExchange } from './direct.js';
import type { UniqueList } from '../unique-list.js';
import { Exchange, type Binding, type Destination, type ExchangeOptions } from './exchange.js';
import { FanoutExchange } from './fanout.js';
import { HeadersExchange } from './headers.js';
import { TopicExchange } from './topic.js';

/** The exchange type name the plugin registers. */
export const DELAYED_EXCHANGE_TYPE = 'x-delayed-message';

/** The exchange types an x-delayed-message exchange can route like. */
const ROUTING_TYPES: Record<string, new (vhost: string, name: string, options: ExchangeOptions) => Exchange> = {
  direct: DirectExchange,
  fanout: FanoutExchange,
  topic: TopicExchange,
  headers: HeadersExchange,
};

/** The plugin's upper bound on x-delay: Erlang's largest timer, (2^32)-1 ms; longer delays route at once. */
export const DELAY_MAX_MS = 4294967295;

/**
 * Checks the x-delayed-type argument of an x-delayed-message exchange.declare with the plugin's
 * errors: 406 when it is missing, not a string or names the delayed type itself, and 503 (as
 * RabbitMQ's check_type) when it names no exchange type at all.
 */
export function validateDelayedType(args: FieldTable, isExchangeType: (type: string) => boolean): void {
  const type = delayedTypeOf(args);
  if (type === DELAYED_EXCHANGE_TYPE) {
    throw preconditionFailed(`Invalid argument, '${DELAYED_EXCHANGE_TYPE}' can't be used for 'x-delayed-type'`);
  }
  if (type === undefined) throw preconditionFailed(`Invalid argument, 'x-delayed-type' must be an existing exchange type`);
  if (!isExchangeType(type)) throw commandInvalid(`unknown exchange type '${type}'`);
}

/** The x-delayed-type argument as text, or undefined when it is absent or not a string. */
function delayedTypeOf(args: FieldTable): string | undefined {
  return stringValue(args['x-delayed-type']);
}

/**
 * The delay a message asks for, read as the plugin reads x-delay: any integer type, a float or
 * decimal truncated, or a string holding an integer. Undefined when it is absent or unreadable.
 */
export function delayOf(message: Message): number | undefined {
  const value = message.properties.headers?.['x-delay'];
  return value === undefined ? undefined : delayValue(value);
}

function delayValue(value: FieldValue): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Decimal) return Math.trunc(value.value / 10 ** value.scale);
  if (typeof value === 'string') return /^[+-]?\d+$/.test(value) ? Number(value) : undefined;
  return undefined;
}

/** Routes like its x-delayed-type; the broker holds messages with a positive x-delay before routing them. */
export class DelayedExchange extends Exchange {
  /** The exchange of the x-delayed-type that indexes the bindings and routes. */
  private readonly inner: Exchange;

  constructor(vhost: string, name: string, options: ExchangeOptions) {
    super(vhost, name, options);
    const type = delayedTypeOf(options.arguments);
    const RoutingType = type === undefined ? undefined : ROUTING_TYPES[type];
    // exchange.declare validated the argument; a stored definition that no longer names a type routes like direct.
    this.inner = new (RoutingType ?? DirectExchange)(vhost, name, options);
  }

  get type(): string {
    return DELAYED_EXCHANGE_TYPE;
  }

  override get routingType(): string {
    return this.inner.type;
  }

  route(message: Message, routingKey: string, out: UniqueList<Destination>): void {
    this.inner.route(message, routingKey, out);
  }

  protected addRoute(binding: Binding): void {
    this.inner.bind(binding);
  }

  protected removeRoute(binding: Binding): void {
    this.inner.unbind(binding.key);
  }
}
