// A deliberately thin layer over the two AMQP client libraries the benchmarks can drive
// (amqplib and @cloudamqp/amqp-client), so every benchmark runs the same code against every broker
// and the client can be swapped to check it is not what limits the numbers.
import { AMQPClient, type AMQPChannel } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { once } from 'node:events';

/** Client libraries the benchmarks can use. */
export type ClientName = 'amqplib' | 'amqp-client';

/** All client names, for argument validation. */
export const clientNames: readonly ClientName[] = ['amqplib', 'amqp-client'];

/** How a benchmark consumer acknowledges deliveries. */
export interface ConsumeOptions {
  /** basic.consume no-ack: the broker forgets a message as soon as it is sent. */
  readonly noAck: boolean;
  /** basic.qos prefetch count (ignored by brokers for no-ack consumers). */
  readonly prefetch: number;
  /** With manual acks, send one basic.ack with multiple=true every this many deliveries (1 = ack each). */
  readonly ackEvery: number;
}

/** One AMQP connection with one channel, as much of it as the benchmarks need. */
export interface BenchConnection {
  /** Server product and version from connection.start, when the client exposes them. */
  readonly serverVersion: string;
  /** Declares a transient (non-durable, non-exclusive, non-auto-delete) queue and purges it. */
  declareQueue(queue: string): Promise<void>;
  /** Deletes a queue, ignoring whether it exists. */
  deleteQueue(queue: string): Promise<void>;
  /** Returns the number of ready messages in a queue (passive declare). */
  queueMessageCount(queue: string): Promise<number>;
  /**
   * Publishes `body` to the default exchange with routing key `queue`, delivery mode 1.
   * Returns false when the socket's write buffer is full: the caller must then await
   * {@link BenchConnection.waitWritable} before publishing more, which keeps memory bounded.
   */
  publish(queue: string, body: Buffer): boolean;
  /** Resolves when the write buffer has drained after {@link BenchConnection.publish} returned false. */
  waitWritable(): Promise<void>;
  /** Starts a consumer; `onMessage` gets each body. Resolves once basic.consume-ok arrived. */
  consume(queue: string, options: ConsumeOptions, onMessage: (body: Uint8Array) => void): Promise<void>;
  /** Closes the channel and the connection. */
  close(): Promise<void>;
}

/** Opens a connection (and one channel) with the chosen client library. */
export async function openConnection(client: ClientName, url: string): Promise<BenchConnection> {
  return client === 'amqplib' ? openAmqplib(url) : openAmqpClient(url);
}

async function openAmqplib(url: string): Promise<BenchConnection> {
  const model = await amqplib.connect(url);
  model.on('error', () => undefined);
  const channel = await model.createChannel();
  const properties = model.connection.serverProperties;
  const publishOptions = { deliveryMode: 1 } as const;
  return {
    serverVersion: `${String(properties.product ?? '')} ${String(properties.version ?? '')}`.trim(),
    async declareQueue(queue) {
      await channel.assertQueue(queue, { durable: false, exclusive: false, autoDelete: false });
      await channel.purgeQueue(queue);
    },
    async deleteQueue(queue) {
      await channel.deleteQueue(queue);
    },
    async queueMessageCount(queue) {
      return (await channel.checkQueue(queue)).messageCount;
    },
    publish(queue, body) {
      return channel.sendToQueue(queue, body, publishOptions);
    },
    async waitWritable() {
      await once(channel, 'drain');
    },
    async consume(queue, options, onMessage) {
      await channel.prefetch(options.prefetch);
      let unacked = 0;
      await channel.consume(
        queue,
        (message) => {
          if (message === null) return;
          onMessage(message.content);
          if (!options.noAck && ++unacked >= options.ackEvery) {
            unacked = 0;
            channel.ack(message, options.ackEvery > 1);
          }
        },
        { noAck: options.noAck },
      );
    },
    async close() {
      await model.close();
    },
  };
}

async function openAmqpClient(url: string): Promise<BenchConnection> {
  const client = new AMQPClient(url);
  await client.connect();
  const channel: AMQPChannel = await client.channel();
  const publishProperties = { deliveryMode: 1 } as const;
  // basicPublish writes synchronously and returns a promise settled by the socket write callback.
  // We bound memory with the socket's own buffer level, as amqplib does, rather than awaiting
  // every promise, which would add a turn of the event loop per message.
  const writeBufferLimitBytes = 256 * 1024;
  const ignore = (): void => undefined;
  return {
    serverVersion: '',
    async declareQueue(queue) {
      await channel.queueDeclare(queue, { durable: false, exclusive: false, autoDelete: false });
      await channel.queuePurge(queue);
    },
    async deleteQueue(queue) {
      await channel.queueDelete(queue);
    },
    async queueMessageCount(queue) {
      return (await channel.queueDeclare(queue, { passive: true })).messageCount;
    },
    publish(queue, body) {
      channel.basicPublish('', queue, body, publishProperties).catch(ignore);
      const socket = client.socket;
      return socket === undefined || socket.writableLength < writeBufferLimitBytes;
    },
    async waitWritable() {
      const socket = client.socket;
      if (socket !== undefined && socket.writableLength >= writeBufferLimitBytes) await once(socket, 'drain');
    },
    async consume(queue, options, onMessage) {
      await channel.prefetch(options.prefetch);
      let unacked = 0;
      await channel.basicConsume(queue, { noAck: options.noAck }, (message) => {
        if (message.body !== null) onMessage(message.body);
        if (!options.noAck && ++unacked >= options.ackEvery) {
          unacked = 0;
          channel.basicAck(message.deliveryTag, options.ackEvery > 1).catch(ignore);
        }
      });
    },
    async close() {
      await client.close();
    },
  };
}
