/**
 * Webhooks on a real in-process Warren (its result keeper with the SQLite store, fast retry policy),
 * a real worker and a real node:http receiver: the finished task is POSTed signed per Standard
 * Webhooks (checked with verifyWebhook and with the standardwebhooks package), retried after 500s,
 * every attempt listed on the task over HTTP and in the SDK, and a pending delivery survives a restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { Webhook } from 'standardwebhooks';
import { startWarren, type WarrenNode } from '../../src/main.js';
import type { TaskView } from '../../src/http/task-view.js';
import { NonRetryableError, connectTasks, createWorker, verifyWebhook, type TasksClient, type Worker } from '../../src/tasks/index.js';
import { waitFor } from '../helpers/amqp.js';
import { startWebhookReceiver, type ReceivedWebhook } from '../helpers/webhook-receiver.js';

const skip = { skip: process.env['WARREN_TEST_URL'] ? 'runs its own Warren with its keeper' : false, timeout: 30_000 };
const GUEST = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
/** Retries after 100 ms, 200 ms, 400 ms (+-20%), at most 4 attempts. */
const POLICY = { timeoutMs: 2000, retryFirstDelayMs: 100, retryDelayMaxMs: 400, attemptsMax: 4, retryWindowMs: 60_000 };

let node: WarrenNode;
let dataDir: string;
let client: TasksClient;
let worker: Worker;
let base: string;

before(async () => {
  if (skip.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-webhooks-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { webhooks: POLICY } });
  base = `http://127.0.0.1:${node.httpPort}`;
  const url = `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
  worker = createWorker({ url, concurrency: 2 });
  worker.handle<{ n: number }, number>('double', ({ n }) => n * 2);
  worker.handle('refuse', () => {
    throw new NonRetryableError('no such order');
  });
  await worker.start();
  client = connectTasks({ url });
});

after(async () => {
  if (skip.skip !== false) return;
  await worker.close();
  await client.close();
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${path}`, { headers: GUEST });
  return { status: response.status, body: (await response.json()) as T };
}

async function secretOver(http: string, callbackUrl: string): Promise<string> {
  const response = await fetch(`${http}/api/tasks/webhooks/secret?url=${encodeURIComponent(callbackUrl)}`, { headers: GUEST });
  assert.equal(response.status, 200);
  return ((await response.json()) as { secret: string }).secret;
}

/** The payload of a received webhook, verified by our helper and by the standardwebhooks package alike. */
function verifiedPayload(secret: string, request: ReceivedWebhook): { type: string; timestamp: string; data: TaskView } {
  const ours = verifyWebhook(secret, request.headers, request.rawBody);
  const headers = Object.fromEntries(['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => [name, String(request.headers[name])]));
  const theirs = new Webhook(secret).verify(request.rawBody, headers);
  assert.deepEqual(ours, theirs);
  return ours as { type: string; timestamp: string; data: TaskView };
}

/** The task's view once its webhook is no longer pending. */
async function settledView(id: string): Promise<TaskView> {
  let view: TaskView | undefined;
  await waitFor(async () => {
    view = (await getJson<TaskView>(`/api/tasks/${id}`)).body;
    return view.webhook !== undefined && view.webhook.state !== 'pending';
  }, 10_000, 'the webhook to settle');
  return view as TaskView;
}

test('a receiver that fails twice gets the signed result three times; the attempts are on the task', skip, async () => {
  const receiver = await startWebhookReceiver([500, 500, 200]);
  try {
    const callbackUrl = `${receiver.url}?order=7`;
    const secret = await secretOver(base, callbackUrl);
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(await client.webhookSecret(receiver.url), secret, 'the SDK hands out the same secret, whatever the query string');
    const handle = await client.submit('double', { n: 21 }, { callbackUrl });
    assert.equal(await handle.result({ timeoutMs: 5000 }), 42);
    await waitFor(() => receiver.received.length === 3, 10_000, 'three attempts');
    const payloads = receiver.received.map((request) => verifiedPayload(secret, request));
    for (const payload of payloads) {
      assert.equal(payload.type, 'task.succeeded');
      assert.deepEqual([payload.data.id, payload.data.state, payload.data.result, payload.data.options.callbackUrl], [handle.id, 'succeeded', 42, callbackUrl]);
    }
    const [first, second, third] = receiver.received as [ReceivedWebhook, ReceivedWebhook, ReceivedWebhook];
    assert.equal(new Set(receiver.received.map((request) => request.headers['webhook-id'])).size, 1, 'one webhook-id for all attempts');
    assert.equal(first.path, '/hooks/warren?order=7');
    assert.equal(first.headers['content-type'], 'application/json');
    assert.ok(second.receivedAt - first.receivedAt >= 80 - 5, `first retry after ${second.receivedAt - first.receivedAt} ms`);
    assert.ok(third.receivedAt - second.receivedAt >= 160 - 5, `second retry after ${third.receivedAt - second.receivedAt} ms`);

    const view = await settledView(handle.id);
    assert.equal(view.webhook?.state, 'delivered');
    assert.deepEqual(view.webhook?.attempts.map((attempt) => attempt.status), [500, 500, 200]);
    assert.equal(view.webhook?.id, first.headers['webhook-id']);
    assert.deepEqual([view.webhook?.url, view.webhook?.type, view.webhook?.run], [callbackUrl, 'task.succeeded', 1]);
    for (const attempt of view.webhook?.attempts ?? []) {
      assert.match(attempt.at, /^\d{4}-\d\d-\d\dT/);
      assert.ok(attempt.durationMs >= 0);
    }
    const record = await client.get(handle.id);
    assert.equal(record?.webhook?.state, 'delivered');
    assert.deepEqual(record?.webhook?.attempts.map((attempt) => attempt.status), [500, 500, 200]);
    assert.equal(typeof record?.webhook?.attempts[0]?.at, 'number');
  } finally {
    await receiver.close();
  }
});

test('a tampered body, another secret or an old timestamp fail verification', skip, async () => {
  const receiver = await startWebhookReceiver([200]);
  try {
    const secret = await client.webhookSecret(receiver.url);
    await client.submit('double', { n: 1 }, { callbackUrl: receiver.url });
    await waitFor(() => receiver.received.length === 1, 5000, 'the webhook');
    const request = receiver.received[0] as ReceivedWebhook;
    assert.ok(verifyWebhook(secret, request.headers, request.rawBody));
    assert.throws(() => verifyWebhook(secret, request.headers, request.rawBody.replace('"result":2', '"result":3')), { name: 'WebhookVerificationError', problem: 'bad_signature' });
    const otherSecret = await client.webhookSecret('http://127.0.0.1:1/elsewhere');
    assert.notEqual(otherSecret, secret);
    assert.throws(() => verifyWebhook(otherSecret, request.headers, request.rawBody), { problem: 'bad_signature' });
    assert.throws(() => new Webhook(otherSecret).verify(request.rawBody, request.headers as Record<string, string>));
    assert.throws(() => verifyWebhook(secret, request.headers, request.rawBody, { nowMs: Date.now() + 10 * 60_000 }), { problem: 'timestamp_too_old' });
  } finally {
    await receiver.close();
  }
});

test('HTTP submit takes options.callbackUrl; a failed task is POSTed as task.failed', skip, async () => {
  const receiver = await startWebhookReceiver([200]);
  try {
    const response = await fetch(`${base}/api/tasks/refuse`, {
      method: 'POST',
      headers: { ...GUEST, 'content-type': 'application/json' },
      body: JSON.stringify({ payload: { order: 9 }, options: { callbackUrl: receiver.url } }),
    });
    assert.equal(response.status, 202);
    const { id } = (await response.json()) as { id: string };
    await waitFor(() => receiver.received.length === 1, 5000, 'the webhook');
    const payload = verifiedPayload(await secretOver(base, receiver.url), receiver.received[0] as ReceivedWebhook);
    assert.deepEqual([payload.type, payload.data.id, payload.data.state, payload.data.error?.message], ['task.failed', id, 'failed', 'no such order']);
    assert.deepEqual((await settledView(id)).webhook?.attempts.map((attempt) => attempt.status), [200]);
  } finally {
    await receiver.close();
  }
});

test('bad callback URLs are refused: 400 over HTTP, TaskValidationError in the SDK', skip, async () => {
  for (const callbackUrl of ['ftp://example.com/hook', 'not a url', 'https://user:pw@example.com/hook']) {
    const response = await fetch(`${base}/api/tasks/double`, {
      method: 'POST',
      headers: { ...GUEST, 'content-type': 'application/json' },
      body: JSON.stringify({ payload: { n: 1 }, options: { callbackUrl } }),
    });
    assert.equal(response.status, 400, callbackUrl);
    assert.match(((await response.json()) as { reason: string }).reason, /callbackUrl/);
    await assert.rejects(client.submit('double', { n: 1 }, { callbackUrl }), { name: 'TaskValidationError' });
  }
  assert.equal((await getJson('/api/tasks/webhooks/secret?url=ftp%3A%2F%2Fx')).status, 400);
  assert.equal((await getJson('/api/tasks/webhooks/secret')).status, 400);
  await assert.rejects(client.webhookSecret('mailto:ops@example.com'), { name: 'TaskValidationError' });
});

test('410 Gone stops at once; an unreachable receiver is tried attemptsMax times, each error recorded', skip, async () => {
  const gone = await startWebhookReceiver([410]);
  const unreachable = await startWebhookReceiver([200]);
  await unreachable.close();
  try {
    const first = await client.submit('double', { n: 2 }, { callbackUrl: gone.url });
    const second = await client.submit('double', { n: 3 }, { callbackUrl: unreachable.url });
    const goneView = await settledView(first.id);
    assert.deepEqual([goneView.webhook?.state, goneView.webhook?.attempts.map((attempt) => attempt.status)], ['failed', [410]]);
    const unreachableView = await settledView(second.id);
    assert.equal(unreachableView.webhook?.state, 'failed');
    assert.equal(unreachableView.webhook?.attempts.length, POLICY.attemptsMax);
    for (const attempt of unreachableView.webhook?.attempts ?? []) {
      assert.equal(attempt.status, undefined);
      assert.match(attempt.error ?? '', /ECONNREFUSED/);
    }
  } finally {
    await gone.close();
  }
});

test('a pending delivery survives a restart of the node, and the secret stays the same', skip, async () => {
  const restartDir = await mkdtemp(join(tmpdir(), 'warren-webhooks-restart-'));
  const receiver = await startWebhookReceiver([500, 200]);
  const config = { amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir: restartDir, logLevel: 'silent' as const };
  // The retry is due 3 s (+-20%) after the first attempt: the node is down by then.
  const slowRetry = { tasks: { webhooks: { ...POLICY, retryFirstDelayMs: 3000, retryDelayMaxMs: 3000 } } };
  let first: WarrenNode | undefined = await startWarren({ ...config, ...slowRetry });
  let second: WarrenNode | undefined;
  try {
    const firstBase = `http://127.0.0.1:${first.httpPort}`;
    const secret = await secretOver(firstBase, receiver.url);
    assert.equal((await stat(join(restartDir, 'webhook-signing-key'))).mode & 0o777, 0o600);
    const url = `amqp://guest:guest@127.0.0.1:${first.amqpPort}`;
    const restartWorker = createWorker({ url, concurrency: 1 });
    restartWorker.handle<{ n: number }, number>('double', ({ n }) => n * 2);
    await restartWorker.start();
    const restartClient = connectTasks({ url });
    const handle = await restartClient.submit('double', { n: 4 }, { callbackUrl: receiver.url });
    await waitFor(async () => (await restartClient.get(handle.id))?.webhook?.attempts.length === 1, 5000, 'the first attempt recorded');
    await restartWorker.close();
    await restartClient.close();
    await first.close();
    first = undefined;
    assert.equal(receiver.received.length, 1, 'no retry before the restart');

    second = await startWarren({ ...config, ...slowRetry });
    const secondBase = `http://127.0.0.1:${second.httpPort}`;
    assert.equal(await secretOver(secondBase, receiver.url), secret);
    await waitFor(() => receiver.received.length === 2, 10_000, 'the retry after the restart');
    const payload = verifiedPayload(secret, receiver.received[1] as ReceivedWebhook);
    assert.deepEqual([payload.data.id, payload.data.result], [handle.id, 8]);
    const viewOnSecond = async (): Promise<TaskView> => (await (await fetch(`${secondBase}/api/tasks/${handle.id}`, { headers: GUEST })).json()) as TaskView;
    await waitFor(async () => (await viewOnSecond()).webhook?.state === 'delivered', 5000, 'delivered after the restart');
    const delivered = await viewOnSecond();
    assert.deepEqual(delivered.webhook?.attempts.map((attempt) => attempt.status), [500, 200]);
  } finally {
    await first?.close();
    await second?.close();
    await receiver.close();
    await rm(restartDir, { recursive: true, force: true });
  }
});

test('the keeper answers a webhook-secret request over AMQP, and refuses a bad URL with bad_request', skip, async () => {
  const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
  try {
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    const replies = new Map<string, unknown>();
    await channel.consume(queue, (message) => {
      if (message !== null) replies.set(String(message.properties.correlationId), JSON.parse(message.content.toString()));
    }, { noAck: true });
    const ask = (correlationId: string, request: unknown): void => {
      channel.sendToQueue('warren.task.keeper.requests', Buffer.from(JSON.stringify(request)), { replyTo: queue, correlationId, contentType: 'application/json' });
    };
    ask('good', { op: 'webhook-secret', url: 'https://app.example/hooks?x=1' });
    ask('bad', { op: 'webhook-secret', url: 'ftp://app.example/hooks' });
    ask('missing', { op: 'webhook-secret' });
    await waitFor(() => replies.size === 3, 5000, 'three replies');
    assert.deepEqual(replies.get('good'), { ok: true, secret: await client.webhookSecret('https://app.example/hooks') });
    for (const key of ['bad', 'missing']) assert.equal((replies.get(key) as { error: { code: string } }).error.code, 'bad_request', key);
  } finally {
    await connection.close();
  }
});
