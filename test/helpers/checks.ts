/**
 * Small checks shared by integration tests: a free loopback port, and a round trip proving a broker
 * still serves clients.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import amqplib from 'amqplib';

/** A TCP port free on 127.0.0.1 at the time of the call. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Publishes a message to a fresh exclusive queue and gets it back: the broker still serves. */
export async function assertRoundTrip(url: string): Promise<void> {
  const connection = await amqplib.connect(url);
  try {
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    channel.sendToQueue(queue, Buffer.from('still alive'));
    let message: amqplib.GetMessage | false = false;
    for (let attempt = 0; attempt < 50 && message === false; attempt++) {
      message = await channel.get(queue, { noAck: true });
      if (message === false) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(message !== false, 'the message came back');
    assert.equal(message.content.toString(), 'still alive');
  } finally {
    await connection.close();
  }
}
