// Retry with backoff on an AMQP broker (Warren or RabbitMQ), two ways, as described in
// docs/retry-with-backoff.md. Each function runs a job that fails twice and then succeeds, and returns
// when each attempt started, so the backoff between attempts can be seen (and is checked by
// test/integration/docs-retry-example.test.ts).
import amqplib from 'amqplib';

/** One attempt at the job: which attempt it was and when it started (ms since the epoch). */
export interface Attempt {
  attempt: number;
  at: number;
}

/** Backoff before retry n (1-based): 100 ms, 200 ms, 400 ms, ... */
export function backoffMs(retry: number): number {
  return 100 * 2 ** (retry - 1);
}

/**
 * Way 1, no plugin needed: one wait queue per backoff step. A failed message is published to the wait
 * queue of its retry; the wait queue has a TTL and dead-letters expired messages back to the work
 * queue through the default exchange. The x-death header counts how often it came back.
 */
export async function retryWithWaitQueues(url: string, prefix: string, failures = 2): Promise<Attempt[]> {
  const connection = await amqplib.connect(url);
  const channel = await connection.createChannel();
  const work = `${prefix}.work`;
  await channel.assertQueue(work, { durable: true });
  for (let retry = 1; retry <= failures; retry++) {
    await channel.assertQueue(`${work}.wait.${retry}`, {
      durable: true,
      arguments: { 'x-message-ttl': backoffMs(retry), 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': work },
    });
  }
  const attempts: Attempt[] = [];
  const done = new Promise<void>((resolve) => {
    void channel.consume(work, (message) => {
      if (message === null) return;
      const deaths = (message.properties.headers?.['x-death'] ?? []) as { count: number }[];
      const retries = deaths.reduce((sum, death) => sum + Number(death.count), 0);
      attempts.push({ attempt: retries + 1, at: Date.now() });
      if (retries < failures) {
        // The job failed: park the message in the wait queue of its next retry, then let go of it.
        channel.sendToQueue(`${work}.wait.${retries + 1}`, message.content, { persistent: true, headers: message.properties.headers });
        channel.ack(message);
        return;
      }
      channel.ack(message);
      resolve();
    });
  });
  channel.sendToQueue(work, Buffer.from('resize image 42'), { persistent: true });
  await done;
  for (let retry = 1; retry <= failures; retry++) await channel.deleteQueue(`${work}.wait.${retry}`);
  await channel.deleteQueue(work);
  await connection.close();
  return attempts;
}

/**
 * Way 2, with a delayed message exchange (Warren has it built in; RabbitMQ needs the
 * rabbitmq_delayed_message_exchange plugin): a failed message is republished to a delayed exchange
 * bound to the work queue, with x-delay set to the backoff and its own attempt counter in a header.
 */
export async function retryWithDelayedExchange(url: string, prefix: string, failures = 2): Promise<Attempt[]> {
  const connection = await amqplib.connect(url);
  const channel = await connection.createChannel();
  const work = `${prefix}.work`;
  const retries = `${prefix}.retries`;
  await channel.assertQueue(work, { durable: true });
  await channel.assertExchange(retries, 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } });
  await channel.bindQueue(work, retries, work);
  const attempts: Attempt[] = [];
  const done = new Promise<void>((resolve) => {
    void channel.consume(work, (message) => {
      if (message === null) return;
      const attempt = Number(message.properties.headers?.['x-attempt'] ?? 1);
      attempts.push({ attempt, at: Date.now() });
      if (attempt <= failures) {
        channel.publish(retries, work, message.content, {
          persistent: true,
          headers: { 'x-attempt': attempt + 1, 'x-delay': backoffMs(attempt) },
        });
        channel.ack(message);
        return;
      }
      channel.ack(message);
      resolve();
    });
  });
  channel.sendToQueue(work, Buffer.from('resize image 42'), { persistent: true });
  await done;
  await channel.deleteExchange(retries);
  await channel.deleteQueue(work);
  await connection.close();
  return attempts;
}
