// One task, its result taken through all four result channels of docs/result-channels.md at once:
// 1. await in the SDK (handle.result()), 2. HTTP long-poll (GET /api/tasks/{id}?wait=...), 3. a signed
// webhook to a callbackUrl, 4. an AMQP reply to a queue of our own (replyTo + correlationId).
// Checked by test/integration/docs-result-channels-example.test.ts. Run it against `warren server` with
//   npx tsx docs/examples/result-channels.ts amqp://guest:guest@localhost:5672 http://localhost:15672
// (an application imports from 'warren' instead of the source tree).
import { AMQPClient } from '@cloudamqp/amqp-client';
import { fileURLToPath } from 'node:url';
import { connectTasks, createWorker, type TaskReply } from '../../src/tasks/index.js';
import { startReceiver, type TaskWebhook } from './webhook-receiver.js';

/** Where the broker and its HTTP task gateway are. */
export interface Endpoints {
  amqpUrl: string;
  /** http://host:15672, without credentials. */
  httpUrl: string;
  /** A broker user for HTTP basic authentication (default guest:guest). */
  credentials?: string;
}

/** The result as each channel delivered it. */
export interface ChannelResults {
  awaited: unknown;
  polled: unknown;
  webhook: unknown;
  reply: unknown;
}

type Thumbnail = { image: string; width: number };

/** Submits one 'thumbnail' task and collects its result from the four channels. */
export async function fourChannels(endpoints: Endpoints, print: (line: string) => void = console.log): Promise<ChannelResults> {
  const worker = createWorker({ url: endpoints.amqpUrl, concurrency: 1 });
  worker.handle<Thumbnail, string>('thumbnail', ({ image, width }) => `${image.replace(/\.\w+$/, '')}-${width}w.webp`);
  await worker.start();
  const tasks = connectTasks({ url: endpoints.amqpUrl });
  let webhookArrived!: (webhook: TaskWebhook) => void;
  const webhook = new Promise<TaskWebhook>((resolve) => (webhookArrived = resolve));
  const receiver = await startReceiver((task) => webhookArrived(task));
  const replies = await replyQueue(endpoints.amqpUrl);
  try {
    receiver.setSecret(await tasks.webhookSecret(receiver.url));
    const handle = await tasks.submit<Thumbnail, string>('thumbnail', { image: 'cat.png', width: 320 }, {
      callbackUrl: receiver.url, // 3. webhook
      replyTo: replies.queue, // 4. AMQP reply...
      correlationId: 'thumbnail-of-cat', // ...with a correlation_id of our choice
    });
    const [awaited, polled, posted, reply] = await Promise.all([
      handle.result({ timeoutMs: 10_000 }), // 1. await in the SDK
      longPoll(endpoints, handle.id), // 2. HTTP long-poll
      webhook,
      replies.next,
    ]);
    const results = { awaited, polled, webhook: posted.data.result, reply: reply.result };
    for (const [channel, result] of Object.entries(results)) print(`${channel}: ${JSON.stringify(result)}`);
    return results;
  } finally {
    await replies.close();
    await receiver.close();
    await tasks.close();
    await worker.close();
  }
}

/** GET /api/tasks/{id}?wait=10: the gateway answers as soon as the task finished (or after 10 s). */
async function longPoll(endpoints: Endpoints, id: string): Promise<unknown> {
  const authorization = `Basic ${Buffer.from(endpoints.credentials ?? 'guest:guest').toString('base64')}`;
  for (;;) {
    const response = await fetch(`${endpoints.httpUrl}/api/tasks/${encodeURIComponent(id)}?wait=10`, { headers: { authorization } });
    const task = (await response.json()) as { state?: string; result?: unknown; reason?: string };
    if (!response.ok) throw new Error(`GET /api/tasks/${id}: ${response.status} ${task.reason ?? ''}`);
    if (task.state === 'succeeded') return task.result;
    if (task.state === 'failed' || task.state === 'dead' || task.state === 'cancelled') throw new Error(`the task ended ${task.state}`);
  }
}

/** An exclusive queue of our own that the worker publishes the TaskReply to; `next` is the first reply. */
async function replyQueue(amqpUrl: string): Promise<{ queue: string; next: Promise<TaskReply>; close(): Promise<void> }> {
  const connection = new AMQPClient(amqpUrl);
  await connection.connect();
  const channel = await connection.channel();
  const { name } = await channel.queueDeclare('', { exclusive: true, autoDelete: true });
  const next = new Promise<TaskReply>((resolve) => {
    void channel.basicConsume(name, { noAck: true }, (message) => {
      if (message.properties.correlationId === 'thumbnail-of-cat') resolve(JSON.parse(message.bodyToString() ?? 'null') as TaskReply);
    });
  });
  return { queue: name, next, close: () => connection.close() };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await fourChannels({ amqpUrl: process.argv[2] ?? 'amqp://guest:guest@localhost:5672', httpUrl: process.argv[3] ?? 'http://localhost:15672' });
}
