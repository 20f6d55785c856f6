/**
 * RabbitMQ's direct reply-to: a client consumes from the pseudo-queue `amq.rabbitmq.reply-to` (no-ack)
 * and publishes requests with reply_to = `amq.rabbitmq.reply-to`; the broker rewrites that to a name
 * unique to the channel, and a reply published to the default exchange with that name as routing key
 * goes straight to the consumer, with no queue in between.
 */
import { randomBytes } from 'node:crypto';
import { notFound, preconditionFailed } from '../broker/errors.js';
import type { Message } from '../broker/message.js';
import type { ReplyTarget, Vhost } from '../broker/vhost.js';

/** The pseudo-queue name. */
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';
const REPLY_PREFIX = `${DIRECT_REPLY_TO}.`;

/** One channel's direct reply-to consumer. */
export class DirectReply {
  /** The consumer tag of the reply consumer, while there is one. */
  consumerTag: string | undefined;
  private name: string | undefined;

  constructor(
    private readonly vhost: Vhost,
    private readonly target: ReplyTarget,
  ) {}

  /** True for a routing key or queue name that addresses a reply consumer. */
  static isReplyName(name: string): boolean {
    return name.startsWith(REPLY_PREFIX);
  }

  /** basic.consume on amq.rabbitmq.reply-to. */
  consume(consumerTag: string, noAck: boolean): void {
    if (!noAck) throw preconditionFailed('reply consumer cannot acknowledge');
    if (this.consumerTag !== undefined) throw preconditionFailed('reply consumer already set');
    this.consumerTag = consumerTag;
    this.name ??= `${REPLY_PREFIX}${randomBytes(18).toString('base64url')}`;
    this.vhost.replyTargets.set(this.name, this.target);
  }

  /** basic.cancel of the reply consumer, or the channel went away. */
  cancel(): void {
    if (this.name !== undefined) this.vhost.replyTargets.delete(this.name);
    this.consumerTag = undefined;
  }

  /** A request asking for a direct reply gets this channel's reply name as its reply_to. */
  rewriteRequest(message: Message): Message {
    // Read from the property bytes: most requests carry a reply-to, few of them this one.
    if (message.replyTo !== DIRECT_REPLY_TO) return message;
    if (this.consumerTag === undefined || this.name === undefined) throw preconditionFailed('fast reply consumer does not exist');
    return message.withProperties({ ...message.properties, replyTo: this.name });
  }

  /** queue.declare of the pseudo-queue or of a reply name: true when found (RabbitMQ answers 0 messages, 1 consumer), 404 for a reply name that is gone. */
  static declarePassive(vhost: Vhost, name: string): boolean {
    if (name === DIRECT_REPLY_TO) return true;
    if (!DirectReply.isReplyName(name)) return false;
    if (!vhost.replyTargets.has(name)) throw notFound(`no queue '${name}' in vhost '${vhost.name}'`);
    return true;
  }
}
