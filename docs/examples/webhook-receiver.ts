// A webhook receiver for Warren tasks, as docs/webhooks.md explains: a plain node:http server that
// verifies each request with verifyWebhook (Standard Webhooks signature and timestamp), skips
// webhook-ids it has seen, and answers 2xx once it has taken the task's result. runWebhookExample
// starts a worker and the receiver, asks the keeper for the receiver's secret, submits a task with a
// callbackUrl and waits for its webhook. Checked by test/integration/docs-webhooks-example.test.ts.
// Run it against `warren server` (which runs the result keeper) with
//   npx tsx docs/examples/webhook-receiver.ts amqp://guest:guest@localhost:5672
// (an application imports from 'warren' instead of the source tree).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebhookVerificationError, connectTasks, createWorker, verifyWebhook, type TaskState } from '../../src/tasks/index.js';

/** What a task webhook carries (the data is the task as GET /api/tasks/{id} shows it). */
export interface TaskWebhook {
  type: string;
  timestamp: string;
  data: { id: string; name: string; state: TaskState; result?: unknown; error?: { message: string } };
}

/** A running receiver. */
export interface Receiver {
  /** Where it listens, e.g. http://127.0.0.1:PORT/hooks/warren */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts a receiver on `port` (0: any free one) that hands each verified webhook to `onTask` once.
 * The secret is passed in later (setSecret), as it depends on the URL the receiver got.
 */
export async function startReceiver(onTask: (webhook: TaskWebhook) => void, port = 0): Promise<Receiver & { setSecret(secret: string): void }> {
  let secret: string | undefined;
  const seen = new Set<string>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        if (secret === undefined) throw new WebhookVerificationError('bad_secret', 'no secret yet');
        // The raw body, exactly as received: the signature covers these bytes.
        const webhook = verifyWebhook(secret, request.headers, Buffer.concat(chunks)) as TaskWebhook;
        // Warren retries until it gets a 2xx, so the same webhook may come twice: webhook-id tells.
        const id = String(request.headers['webhook-id']);
        if (!seen.has(id)) {
          seen.add(id);
          onTask(webhook);
        }
        response.writeHead(204).end();
      } catch (error) {
        const status = error instanceof WebhookVerificationError ? 400 : 500;
        response.writeHead(status, { 'content-type': 'text/plain' }).end((error as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: listening } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${listening}/hooks/warren`,
    setSecret: (value) => (secret = value),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A worker resizes an image; its result comes to our receiver as a signed webhook. */
export async function runWebhookExample(url: string, print: (line: string) => void = console.log): Promise<TaskWebhook> {
  const worker = createWorker({ url, concurrency: 1 });
  worker.handle<{ width: number }, { width: number; height: number }>('resize', ({ width }) => ({ width, height: (width * 3) / 4 }));
  await worker.start();
  const tasks = connectTasks({ url });
  let received!: (webhook: TaskWebhook) => void;
  const webhook = new Promise<TaskWebhook>((resolve) => (received = resolve));
  const receiver = await startReceiver((task) => received(task));
  try {
    // The operator of the receiver asks once for its secret (also: GET /api/tasks/webhooks/secret?url=...).
    receiver.setSecret(await tasks.webhookSecret(receiver.url));
    const handle = await tasks.submit('resize', { width: 640 }, { callbackUrl: `${receiver.url}?order=42` });
    const task = await webhook;
    print(`${task.type} ${task.data.id === handle.id ? 'for our task' : 'for another task'}: ${JSON.stringify(task.data.result)}`);
    return task;
  } finally {
    await receiver.close();
    await tasks.close();
    await worker.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runWebhookExample(process.argv[2] ?? 'amqp://guest:guest@localhost:5672');
}
