/**
 * The publishing side of one channel: what becomes of a basic.publish once its content is assembled.
 * The message goes to a direct reply-to consumer, is held by an x-delayed-message exchange or by the
 * open transaction, or is routed and enqueued on its queues; an unroutable mandatory message comes back
 * as basic.return. Every outcome is counted for the channel's publisher confirms, which live here too.
 */
import { ReplyCode } from '../codec/index.js';
import type { Exchange } from '../broker/exchange/exchange.js';
import { prepareMessage, type Message } from '../broker/message.js';
import { Enqueued, type Queue } from '../broker/queue.js';
import type { Vhost } from '../broker/vhost.js';
import type { ChannelTransaction } from './channel-transaction.js';
import type { Connection } from './connection.js';
import type { AssembledPublish } from './content-assembler.js';
import { DirectReply } from './direct-reply.js';
import type { PublisherConfirms } from './publisher-confirms.js';

/** Routes, enqueues and confirms the publishes of one channel. */
export class ChannelPublisher {
  /** Set by confirm.select. */
  confirms: PublisherConfirms | undefined;
  /** The queues a message routes to, refilled by every routing so that publishing allocates no list. */
  private readonly routed: Queue[] = [];

  constructor(
    private readonly channelNumber: number,
    private readonly connection: Connection,
    private readonly vhost: Vhost,
    private readonly directReply: DirectReply,
  ) {}

  /** Handles an assembled publish; with a transaction open, its routed message waits for tx.commit. */
  publish(publish: AssembledPublish, transaction: ChannelTransaction | undefined): void {
    const { exchange: exchangeName, routingKey, mandatory } = publish.method;
    this.vhost.stats.publish++;
    const exchange = this.vhost.exchangeForPublish(exchangeName);
    const message = this.directReply.rewriteRequest(prepareMessage(exchangeName, routingKey, publish.rawProperties, publish.body, this.connection.username));
    if (exchangeName === '' && DirectReply.isReplyName(routingKey)) {
      this.publishReply(message, mandatory);
      return;
    }
    if (this.holdDelayed(exchange, message)) return;
    if (transaction !== undefined) {
      transaction.holdPublish({ queues: [...this.vhost.route(exchange, message, this.routed)], message, mandatory });
      return;
    }
    this.deliverRouted(this.vhost.route(exchange, message, this.routed), message, mandatory);
  }

  /**
   * An x-delayed-message exchange holds a message with a positive x-delay instead of routing it. As with
   * RabbitMQ's plugin this happens at publish time (also in a transaction) and mandatory cannot apply.
   */
  private holdDelayed(exchange: Exchange, message: Message): boolean {
    const held = this.vhost.delayedMessages.hold(exchange, message);
    if (held === undefined) return false;
    this.confirms?.published(held.persisted);
    this.vhost.alarms.checkPublisher(this.connection);
    return true;
  }

  /**
   * Enqueues a routed message, returns it if mandatory and unroutable, and records its confirm. Returns
   * true when the message was written to a message store (its confirm waits for an fsync).
   */
  deliverRouted(queues: readonly Queue[], message: Message, mandatory: boolean): boolean {
    let enqueued = 0;
    let persisted = false;
    let rejected = false;
    const pausable = this.connection.consumerCount === 0;
    for (const queue of queues) {
      if (queue.deleted) continue;
      const outcome = queue.enqueue(message);
      persisted ||= outcome === Enqueued.persisted;
      rejected ||= outcome === Enqueued.rejected;
      enqueued++;
      if (pausable && queue.consumerCount > 0) queue.applyFlowControl(this.connection);
    }
    if (enqueued === 0) {
      if (mandatory) this.vhost.stats.returnUnroutable++;
      else this.vhost.stats.dropUnroutable++;
    }
    if (enqueued === 0 && mandatory) {
      this.connection.sendContent(this.channelNumber, {
        name: 'basicReturn', replyCode: ReplyCode.NoRoute, replyText: 'NO_ROUTE',
        exchange: message.exchange, routingKey: message.routingKey,
      }, message);
    }
    // A queue at its length limit with x-overflow reject-publish refuses: the confirm is a nack.
    this.confirms?.published(persisted, rejected);
    this.vhost.alarms.checkPublisher(this.connection);
    return persisted;
  }

  /** A direct reply-to reply goes straight to the requester's reply consumer, or nowhere. */
  private publishReply(message: Message, mandatory: boolean): void {
    const target = this.vhost.replyTargets.get(message.routingKey);
    if (target !== undefined) target.deliverReply(message.routingKey, message);
    // RabbitMQ routes a reply to no queue, so a mandatory reply is returned even when it was delivered.
    if (mandatory) {
      this.connection.sendContent(this.channelNumber, {
        name: 'basicReturn', replyCode: ReplyCode.NoRoute, replyText: 'NO_ROUTE', exchange: message.exchange, routingKey: message.routingKey,
      }, message);
    }
    this.confirms?.published(false);
  }
}
