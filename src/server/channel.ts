/**
 * One AMQP channel: decodes its methods, turns them into broker calls, assembles published content,
 * and keeps the channel-scoped state RabbitMQ defines (delivery tags, unacked messages, prefetch,
 * publisher confirms, transactions, flow). What becomes of an assembled publish (routing, basic.return,
 * the confirm) is ChannelPublisher's (channel-publisher.ts); what a transaction holds back until commit
 * is ChannelTransaction's (channel-transaction.ts).
 */
import { randomBytes } from 'node:crypto';
import { FrameType, METHOD_IDS, decodeMethod, type Method } from '../codec/index.js';
import { consumerPriority } from '../broker/argument-validation.js';
import {
  AmqpError, accessRefused, channelError, commandInvalid, internalError, notAllowed, notFound, notImplemented,
  preconditionFailed, unexpectedFrame, type ChannelError,
} from '../broker/errors.js';
import type { Message, QueueEntry } from '../broker/message.js';
import type { Queue } from '../broker/queue.js';
import { generateQueueName, type ReplyTarget, type Vhost } from '../broker/vhost.js';
import type { Limits } from '../config/config.js';
import type { Connection } from './connection.js';
import { ContentAssembler } from './content-assembler.js';
import { ChannelConsumer, type ConsumerHost } from './consumer.js';
import { DIRECT_REPLY_TO, DirectReply } from './direct-reply.js';
import { PublisherConfirms } from './publisher-confirms.js';
import type { ResourceAccess } from '../broker/access-control.js';
import type { ChannelInfo, UnackedMessageInfo } from '../broker/connection-info.js';
import { AckTimeoutWatch } from './ack-timeout.js';
import { ChannelPublisher } from './channel-publisher.js';
import { ChannelTransaction } from './channel-transaction.js';
import { Unacked, requeueDeliveries, type UnackedDelivery } from './unacked.js';

/** An open channel. */
export class Channel implements ConsumerHost, ReplyTarget {
  private readonly consumers = new Map<string, ChannelConsumer>();
  private readonly unacked = new Unacked();
  private readonly content: ContentAssembler;
  private readonly consumersMax: number;
  private closed = false;
  /** Set when the server has sent channel.close and waits for close-ok. */
  closing = false;
  private nextDeliveryTag = 1;
  /** basic.qos global=false: the limit given to consumers created afterwards. */
  private consumerPrefetchCount = 0;
  /** basic.qos global=true: the limit over all of the channel's consumers. */
  private channelPrefetchCount = 0;
  /** Routes and enqueues assembled publishes; holds the publisher confirms once confirm.select is seen. */
  private readonly publisher: ChannelPublisher;
  /** Set by tx.select. */
  private transaction: ChannelTransaction | undefined;
  private lastDeclaredQueue: string | undefined;
  /**
   * Consumer deliveries not yet settled, including acks held in an open transaction: what the
   * channel-wide (global) prefetch limit counts. basic.get deliveries do not count, as in RabbitMQ.
   */
  private consumerUnackedCount = 0;
  /** Armed while deliveries are unacknowledged: fires at the earliest acknowledgement deadline. */
  private readonly ackTimeouts: AckTimeoutWatch;
  private readonly directReply: DirectReply;

  constructor(
    readonly number: number,
    private readonly connection: Connection,
    private readonly vhost: Vhost,
    limits: Limits,
    /** The user's configure/write/read permissions in this vhost. */
    private readonly access: ResourceAccess,
  ) {
    this.content = new ContentAssembler(limits.messageSizeMaxBytes);
    this.consumersMax = limits.consumersPerChannelMax;
    const isOpen = (): boolean => !this.closing && !this.closed;
    this.ackTimeouts = new AckTimeoutWatch(number, this.unacked, limits.consumerTimeoutMs, {
      get active() {
        return isOpen();
      },
      fail: (error: ChannelError) => connection.failChannel(number, error),
    });
    this.directReply = new DirectReply(vhost, this);
    this.publisher = new ChannelPublisher(number, connection, vhost, this.directReply);
  }

  /** Handles a frame addressed to this channel. */
  onFrame(type: number, payload: Buffer): void {
    const publishIds = METHOD_IDS.basicPublish;
    if (this.content.active) {
      try {
        if (type === FrameType.Method) {
          throw unexpectedFrame('expected content header for class 60, got non content header frame instead');
        }
        const publish = this.content.onFrame(type, payload);
        if (publish !== undefined && !this.closing) this.publisher.publish(publish, this.transaction);
      } catch (error) {
        if (error instanceof AmqpError) error.causedBy(publishIds.classId, publishIds.methodId);
        throw error;
      }
      return;
    }
    if (type !== FrameType.Method) {
      throw unexpectedFrame('expected method frame, got non method frame instead').causedBy(0, 0);
    }
    const method = decodeMethod(payload);
    try {
      if (this.closing) this.onMethodWhileClosing(method);
      else this.onMethod(method);
    } catch (error) {
      if (error instanceof AmqpError) error.causedBy(METHOD_IDS[method.name].classId, METHOD_IDS[method.name].methodId);
      throw error;
    }
  }

  /** What the management API shows of this channel and its consumers. */
  info(): ChannelInfo {
    return {
      number: this.number, prefetchCount: this.consumerPrefetchCount, globalPrefetchCount: this.channelPrefetchCount,
      confirm: this.publisher.confirms !== undefined, transactional: this.transaction !== undefined, messagesUnacknowledged: this.unacked.size,
      messagesUnconfirmed: this.publisher.confirms?.unconfirmedCount ?? 0,
      consumers: [...this.consumers.values()].map((consumer) => ({
        consumerTag: consumer.consumerTag, queue: consumer.queue.name, ackRequired: !consumer.noAck,
        exclusive: consumer.exclusive, prefetchCount: consumer.prefetchCount, priority: consumer.priority,
        unacknowledged: consumer.unackedCount,
      })),
    };
  }

  /** Lowers `oldest` (queue -> delivery time) to this channel's oldest unacknowledged delivery per queue. */
  collectOldestUnacked(oldest: Map<Queue, number>): void {
    for (const { queue, deliveredAt } of this.unacked.values()) {
      const known = oldest.get(queue);
      if (known === undefined || deliveredAt < known) oldest.set(queue, deliveredAt);
    }
  }

  /** Management browsing: appends the deliveries from `queue` this channel holds unacknowledged. */
  unackedFrom(queue: Queue, connection: string, into: UnackedMessageInfo[]): void {
    for (const { queue: from, entry, consumer, deliveryTag, deliveredAt } of this.unacked.values()) {
      if (from === queue) into.push({ connection, channel: this.number, consumerTag: consumer?.consumerTag, deliveryTag, deliveredAt, entry });
    }
  }

  /**
   * Management requeue: if this channel holds the delivery of message `sequence` of `queue`, the broker
   * takes it back as if the client had nacked it with requeue, and the client's later ack, nack or
   * reject of its tag is ignored. Returns whether this channel held it.
   */
  requeueFor(queue: Queue, sequence: number): boolean {
    if (this.closed || this.closing) return false;
    for (const delivery of this.unacked.values()) {
      if (delivery.queue !== queue || delivery.entry.sequence !== sequence) continue;
      this.unacked.revoke(delivery.deliveryTag);
      this.apply([delivery], true);
      return true;
    }
    return false;
  }

  /** Starts a server-initiated close: the channel lets go of everything and waits for close-ok. */
  beginServerClose(): void {
    this.teardown();
    this.closing = true;
  }

  /**
   * Between the server's channel.close and the client's close-ok, RabbitMQ ignores the client's
   * methods (including whole publishes) but still answers a crossing channel.close and still treats
   * channel.open and frame-level faults as errors.
   */
  private onMethodWhileClosing(method: Method): void {
    switch (method.name) {
      case 'channelCloseOk':
        return this.connection.channelFinished(this.number);
      case 'channelClose':
        // A crossing close is answered, but the channel stays closing until our close is acknowledged.
        return this.send({ name: 'channelCloseOk' });
      case 'channelOpen':
        throw channelError(`second 'channel.open' seen`);
      case 'basicPublish':
        return this.content.begin(method);
      default:
        return;
    }
  }

  private onMethod(method: Method): void {
    switch (method.name) {
      case 'channelOpen': throw channelError(`second 'channel.open' seen`);
      case 'channelClose': return this.onClose();
      case 'channelFlow': return this.onFlow(method.active);
      case 'accessRequest': return this.send({ name: 'accessRequestOk', ticket: 1 });
      case 'exchangeDeclare': {
        const { exchange, type, passive, durable, autoDelete, internal, nowait, arguments: args } = method;
        if (!passive) this.access.checkExchangeDeclare(exchange, args);
        this.vhost.declareExchange(exchange, type, { durable, autoDelete, internal, arguments: args }, passive);
        return this.reply(nowait, { name: 'exchangeDeclareOk' });
      }
      case 'exchangeDelete':
        this.access.check('configure', 'exchange', method.exchange);
        this.vhost.deleteExchange(method.exchange, method.ifUnused);
        return this.reply(method.nowait, { name: 'exchangeDeleteOk' });
      case 'exchangeBind':
        this.access.checkBind('exchange', method.destination, method.source);
        this.vhost.bindExchange(method.destination, method.source, method.routingKey, method.arguments);
        return this.reply(method.nowait, { name: 'exchangeBindOk' });
      case 'exchangeUnbind':
        this.access.checkBind('exchange', method.destination, method.source);
        this.vhost.unbindExchange(method.destination, method.source, method.routingKey, method.arguments);
        return this.reply(method.nowait, { name: 'exchangeUnbindOk' });
      case 'queueDeclare': return this.onQueueDeclare(method);
      case 'queueBind': {
        // RabbitMQ: an empty queue name and key bind the last declared queue under its own name.
        const queue = this.queueName(method.queue);
        const routingKey = method.queue === '' && method.routingKey === '' ? queue : method.routingKey;
        this.access.checkBind('queue', queue, method.exchange);
        this.vhost.bindQueue(queue, method.exchange, routingKey, method.arguments, this.connection.id);
        return this.reply(method.nowait, { name: 'queueBindOk' });
      }
      case 'queueUnbind':
        this.access.checkBind('queue', this.queueName(method.queue), method.exchange);
        this.vhost.unbindQueue(this.queueName(method.queue), method.exchange, method.routingKey, method.arguments, this.connection.id);
        return this.send({ name: 'queueUnbindOk' });
      case 'queuePurge': {
        this.access.check('read', 'queue', this.queueName(method.queue));
        const messageCount = this.vhost.purgeQueue(this.queueName(method.queue), this.connection.id);
        return this.reply(method.nowait, { name: 'queuePurgeOk', messageCount });
      }
      case 'queueDelete': {
        const flags = { ifUnused: method.ifUnused, ifEmpty: method.ifEmpty };
        this.access.check('configure', 'queue', this.queueName(method.queue));
        const messageCount = this.vhost.deleteQueue(this.queueName(method.queue), flags, this.connection.id);
        return this.reply(method.nowait, { name: 'queueDeleteOk', messageCount });
      }
      case 'basicQos': return this.onQos(method.prefetchSize, method.prefetchCount, method.global);
      case 'basicConsume': return this.onConsume(method);
      case 'basicCancel': return this.onCancel(method.consumerTag, method.nowait);
      case 'basicPublish': return this.onPublish(method);
      case 'basicGet':
        this.access.check('read', 'queue', this.queueName(method.queue));
        return this.onGet(this.queueName(method.queue), method.noAck);
      case 'basicAck': return this.onAck(method.deliveryTag, method.multiple);
      case 'basicNack': return this.settle(this.unacked.take(method.deliveryTag, method.multiple), method.requeue);
      case 'basicReject': return this.settle(this.unacked.take(method.deliveryTag, false), method.requeue);
      case 'basicRecoverAsync': return this.recover(method.requeue);
      case 'basicRecover':
        this.recover(method.requeue);
        return this.send({ name: 'basicRecoverOk' });
      case 'confirmSelect': return this.onConfirmSelect(method.nowait);
      case 'txSelect': return this.onTxSelect();
      case 'txCommit': return this.onTxCommit();
      case 'txRollback': return this.onTxRollback();
      default:
        throw commandInvalid('unimplemented method');
    }
  }

  private send(method: Method): void {
    this.connection.sendMethod(this.number, method);
  }

  private reply(nowait: boolean, method: Method): void {
    if (!nowait) this.send(method);
  }

  private onClose(): void {
    this.flushConfirms();
    this.teardown();
    this.send({ name: 'channelCloseOk' });
    this.connection.channelFinished(this.number);
  }

  private onFlow(active: boolean): void {
    // RabbitMQ no longer lets clients stop deliveries with channel.flow (prefetch does that job).
    if (!active) throw notImplemented('active=false');
    this.send({ name: 'channelFlowOk', active });
  }

  private onQueueDeclare(method: Extract<Method, { name: 'queueDeclare' }>): void {
    // The direct reply-to pseudo-queue can be declared (passive or not), as in RabbitMQ; reply names passively.
    if ((method.passive || method.queue === DIRECT_REPLY_TO) && DirectReply.declarePassive(this.vhost, method.queue)) {
      this.reply(method.nowait, { name: 'queueDeclareOk', queue: method.queue, messageCount: 0, consumerCount: 1 });
      return;
    }
    const options = {
      // As in RabbitMQ, an exclusive queue is never durable: it dies with its connection anyway.
      durable: method.durable && !method.exclusive,
      exclusiveOwner: method.exclusive ? this.connection.id : null,
      autoDelete: method.autoDelete,
      arguments: method.arguments,
    };
    // A server-named queue is checked under the name it will get, as in RabbitMQ.
    const serverName = method.queue === '' ? generateQueueName() : undefined;
    if (!method.passive) this.access.checkQueueDeclare(serverName ?? method.queue, method.arguments);
    const result = this.vhost.declareQueue(method.queue, options, method.passive, this.connection.id, serverName);
    this.lastDeclaredQueue = result.queue.name;
    this.reply(method.nowait, {
      name: 'queueDeclareOk', queue: result.queue.name, messageCount: result.messageCount, consumerCount: result.consumerCount,
    });
  }

  /** An empty queue name means the queue this channel declared last, as in RabbitMQ. */
  private queueName(name: string): string {
    if (name !== '') return name;
    if (this.lastDeclaredQueue === undefined) throw notFound('no previously declared queue');
    return this.lastDeclaredQueue;
  }

  private onQos(prefetchSize: number, prefetchCount: number, global: boolean): void {
    if (prefetchSize !== 0) throw notImplemented(`prefetch_size!=0 (${prefetchSize})`);
    // RabbitMQ quirk, kept for compatibility: a per-consumer qos also clears the channel-wide limit.
    if (global) this.channelPrefetchCount = prefetchCount;
    else {
      this.consumerPrefetchCount = prefetchCount;
      this.channelPrefetchCount = 0;
    }
    this.send({ name: 'basicQosOk' });
    this.resumeDeliveries();
  }

  private onConsume(method: Extract<Method, { name: 'basicConsume' }>): void {
    const consumerTag = method.consumerTag === '' ? `amq.ctag-${randomBytes(16).toString('base64url').slice(0, 22)}` : method.consumerTag;
    if (this.consumers.has(consumerTag) || this.directReply.consumerTag === consumerTag) throw notAllowed(`attempt to reuse consumer tag '${consumerTag}'`);
    if (method.queue === DIRECT_REPLY_TO) {
      this.directReply.consume(consumerTag, method.noAck);
      this.reply(method.nowait, { name: 'basicConsumeOk', consumerTag });
      return;
    }
    this.access.check('read', 'queue', this.queueName(method.queue));
    const queue = this.vhost.queueFor(this.queueName(method.queue), this.connection.id);
    if (this.consumers.size >= this.consumersMax) throw notAllowed(`reached maximum (${this.consumersMax}) of consumers per channel`);
    if (method.exclusive && queue.settings.singleActiveConsumer) {
      throw accessRefused(`queue '${queue.name}' in vhost '${this.vhost.name}' in exclusive use`);
    }
    if (queue.hasExclusiveConsumer() || (method.exclusive && queue.consumerCount > 0)) {
      throw accessRefused(`queue '${queue.name}' in vhost '${this.vhost.name}' in exclusive use`);
    }
    const priority = consumerPriority(method.arguments, `queue '${queue.name}' in vhost '${queue.vhost}'`);
    const consumer = new ChannelConsumer(consumerTag, queue, method.noAck, method.exclusive, this.consumerPrefetchCount, this, priority);
    this.consumers.set(consumerTag, consumer);
    this.connection.consumerCount++;
    this.reply(method.nowait, { name: 'basicConsumeOk', consumerTag });
    queue.addConsumer(consumer);
  }

  private onCancel(consumerTag: string, nowait: boolean): void {
    if (consumerTag === this.directReply.consumerTag) this.directReply.cancel();
    const consumer = this.consumers.get(consumerTag);
    if (consumer !== undefined) {
      this.consumers.delete(consumerTag);
      this.connection.consumerCount--;
      consumer.queue.removeConsumer(consumer);
    }
    this.reply(nowait, { name: 'basicCancelOk', consumerTag });
  }

  private onPublish(method: Extract<Method, { name: 'basicPublish' }>): void {
    if (method.immediate) throw notImplemented('immediate=true');
    // Content assembly starts first: if the exchange check fails, the closing channel still
    // swallows the header and body frames that follow, as RabbitMQ does.
    this.content.begin(method);
    this.access.checkPublish(method.exchange);
    this.vhost.exchangeForPublish(method.exchange);
  }

  /** ReplyTarget: delivers a reply to this channel's direct reply-to consumer (no-ack, so nothing to track). */
  deliverReply(routingKey: string, message: Message): void {
    const consumerTag = this.directReply.consumerTag;
    if (this.closed || this.closing || consumerTag === undefined) return;
    this.connection.sendContent(this.number, {
      name: 'basicDeliver', consumerTag, deliveryTag: this.nextDeliveryTag++, redelivered: false, exchange: message.exchange, routingKey,
    }, message);
  }

  /** Writes the pending publisher confirm, if any; called by the connection right before each flush. */
  flushConfirms(): void {
    this.publisher.confirms?.flush();
  }

  private onGet(queueName: string, noAck: boolean): void {
    const queue = this.vhost.queueFor(queueName, this.connection.id);
    const entry = queue.get();
    if (entry === undefined) {
      this.send({ name: 'basicGetEmpty', clusterId: '' });
      return;
    }
    const deliveryTag = this.nextDeliveryTag++;
    const stats = this.vhost.stats;
    if (noAck) stats.getNoAck++;
    else stats.get++;
    if (entry.redelivered) stats.redeliver++;
    if (noAck) queue.settle(entry);
    else this.addUnacked({ queue, entry, consumer: undefined, deliveryTag, deliveredAt: Date.now() });
    const { message } = entry;
    this.connection.sendContent(this.number, {
      name: 'basicGetOk', deliveryTag, redelivered: entry.redelivered, exchange: message.exchange,
      routingKey: message.routingKey, messageCount: queue.messageCount,
    }, message);
  }

  canDeliver(consumer: ChannelConsumer): boolean {
    if (this.closed || !this.connection.writable) return false;
    if (consumer.noAck) return true;
    if (consumer.prefetchCount > 0 && consumer.unackedCount >= consumer.prefetchCount) return false;
    return this.channelPrefetchCount === 0 || this.consumerUnackedCount < this.channelPrefetchCount;
  }

  deliver(consumer: ChannelConsumer, entry: QueueEntry): void {
    const deliveryTag = this.nextDeliveryTag++;
    const { message } = entry;
    // Encode first: should encoding ever fail, no bookkeeping has been done for a delivery never sent.
    this.connection.sendContent(this.number, {
      name: 'basicDeliver', consumerTag: consumer.consumerTag, deliveryTag, redelivered: entry.redelivered,
      exchange: message.exchange, routingKey: message.routingKey,
    }, message);
    const stats = this.vhost.stats;
    if (entry.redelivered) stats.redeliver++;
    if (consumer.noAck) {
      stats.deliverNoAck++;
      consumer.queue.settle(entry);
    } else {
      stats.deliver++;
      this.addUnacked({ queue: consumer.queue, entry, consumer, deliveryTag, deliveredAt: Date.now() });
      consumer.unackedCount++;
      this.consumerUnackedCount++;
    }
  }

  private addUnacked(delivery: UnackedDelivery): void {
    this.unacked.add(delivery);
    this.ackTimeouts.delivered(delivery);
  }

  consumerCancelledByBroker(consumer: ChannelConsumer): void {
    if (this.consumers.get(consumer.consumerTag) !== consumer) return;
    this.consumers.delete(consumer.consumerTag);
    this.connection.consumerCount--;
    if (!this.closed && this.connection.clientHas('consumer_cancel_notify')) {
      this.send({ name: 'basicCancel', consumerTag: consumer.consumerTag, nowait: true });
    }
  }

  /** Asks every queue this channel consumes from to deliver again (after acks, qos, flow or drain). */
  resumeDeliveries(): void {
    for (const consumer of this.consumers.values()) consumer.queue.dispatch();
  }

  /** Acknowledges (requeue 'ack'), or rejects with or without requeue, deliveries taken from the unacked set. */
  private onAck(deliveryTag: number, multiple: boolean): void {
    const deliveries = this.unacked.take(deliveryTag, multiple);
    this.vhost.stats.ack += deliveries.length;
    this.settle(deliveries, 'ack');
  }

  private settle(deliveries: UnackedDelivery[], requeue: boolean | 'ack'): void {
    if (this.transaction !== undefined) {
      this.transaction.holdSettlement(deliveries, requeue);
      return;
    }
    this.apply(deliveries, requeue);
  }

  private apply(deliveries: UnackedDelivery[], requeue: boolean | 'ack'): void {
    // The queues whose consumers got room: nearly always one, so a list is cheaper than a Set.
    const freed: Queue[] = [];
    for (const delivery of deliveries) {
      if (delivery.consumer === undefined) continue;
      delivery.consumer.unackedCount--;
      this.consumerUnackedCount--;
      if (!freed.includes(delivery.consumer.queue)) freed.push(delivery.consumer.queue);
    }
    if (requeue === true) requeueDeliveries(deliveries);
    else if (requeue === false) for (const delivery of deliveries) delivery.queue.reject(delivery.entry);
    else for (const delivery of deliveries) delivery.queue.settle(delivery.entry);
    // A channel-wide limit frees every consumer of the channel; otherwise only the ones acked for.
    if (this.channelPrefetchCount > 0) this.resumeDeliveries();
    else for (const queue of freed) queue.dispatch();
  }

  private recover(requeue: boolean): void {
    // Redelivery to the original consumer (requeue=false) is not offered by RabbitMQ either.
    if (!requeue) throw notImplemented('requeue=false');
    this.apply(this.unacked.take(0, true), true);
  }

  private onConfirmSelect(nowait: boolean): void {
    if (this.transaction !== undefined) throw preconditionFailed('cannot switch from tx to confirm mode');
    const isOpen = (): boolean => !this.closing && !this.closed;
    this.publisher.confirms ??= new PublisherConfirms({
      get open() {
        return isOpen();
      },
      send: (confirm) => this.send(confirm),
      syncMessages: (onDurable) => this.vhost.syncAppendedMessages(onDurable),
      scheduleFlush: () => this.connection.scheduleFlush(),
      countConfirmed: (count) => {
        this.vhost.stats.confirm += count;
      },
    });
    this.reply(nowait, { name: 'confirmSelectOk' });
  }

  private onTxSelect(): void {
    if (this.publisher.confirms !== undefined) throw preconditionFailed('cannot switch from confirm to tx mode');
    this.transaction ??= new ChannelTransaction();
    this.send({ name: 'txSelectOk' });
  }

  private onTxCommit(): void {
    if (this.transaction === undefined) throw preconditionFailed('channel is not transactional');
    this.transaction.commit({
      deliverRouted: (queues, message, mandatory) => this.publisher.deliverRouted(queues, message, mandatory),
      apply: (deliveries, settlement) => this.apply(deliveries, settlement),
      syncMessages: (done) => this.vhost.syncMessages(done),
      committed: (error) => {
        if (this.closed || this.closing) return;
        if (error === undefined) this.send({ name: 'txCommitOk' });
        else this.connection.close(internalError(`could not write the transaction to disk: ${error.message}`));
      },
    });
  }

  private onTxRollback(): void {
    if (this.transaction === undefined) throw preconditionFailed('channel is not transactional');
    // Rolled-back acknowledgements leave their deliveries unacknowledged, as before the acks.
    this.unacked.restore(this.transaction.discard());
    this.send({ name: 'txRollbackOk' });
  }

  /** Releases everything the channel holds: consumers are removed and unacked messages requeued. */
  teardown(): void {
    if (this.closed) return;
    this.closed = true;
    this.ackTimeouts.stop();
    this.directReply.cancel();
    const pending = this.unacked.take(0, true);
    if (this.transaction !== undefined) pending.push(...this.transaction.discard());
    pending.sort((a, b) => a.entry.sequence - b.entry.sequence);
    for (const { consumer } of pending) if (consumer !== undefined) consumer.unackedCount--;
    this.consumerUnackedCount = 0;
    requeueDeliveries(pending);
    this.connection.consumerCount -= this.consumers.size;
    for (const consumer of this.consumers.values()) consumer.queue.removeConsumer(consumer);
    this.consumers.clear();
  }
}
