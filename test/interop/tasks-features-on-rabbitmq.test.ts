/**
 * Issue 6's scale-out acceptance for the later task features: on Debian's RabbitMQ (no plugins) with
 * PostgreSQL as the result store, a signed webhook is retried and its attempts recorded, an
 * idempotency key gives one task under concurrent submits, and a cron schedule fires once per slot
 * under a controllable clock. RabbitMQ and PostgreSQL are private servers started here.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { waitFor } from '../helpers/amqp.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { skip as postgresSkip } from '../helpers/postgres.js';
import { startRabbitmqAndPostgres } from '../helpers/rabbitmq-and-postgres.js';
import { skip as rabbitmqSkip } from '../helpers/rabbitmq.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { newWebhookSigningKey } from '../../src/tasks/webhooks/webhook-endpoint.js';
import {
  PostgresResultStore,
  connectTasks,
  createWorker,
  startKeeper,
  verifyWebhook,
  type Keeper,
  type TasksClient,
} from '../../src/tasks/index.js';

const options = { skip: rabbitmqSkip || postgresSkip, timeout: 30_000 };
const MINUTE = 60_000;
const START = Date.UTC(2026, 0, 1, 0, 2);

let store: PostgresResultStore;
let keeper: Keeper;
let client: TasksClient;
let receiver: WebhookReceiver;
const clock = new ManualClock(START);
const ran = new Map<string, number>();
/** Stops what `before` started, newest first, however far it got. */
const cleanup: (() => Promise<unknown>)[] = [];

before(async () => {
  if (options.skip !== false) return;
  const { rabbitmq, postgres } = await startRabbitmqAndPostgres(cleanup);
  const url = rabbitmq.url;
  store = await PostgresResultStore.open(postgres.url);
  cleanup.push(() => store.close());
  receiver = await startWebhookReceiver([500, 200]);
  cleanup.push(() => receiver.close());
  const webhooks = { signingKey: newWebhookSigningKey(), pollIntervalMs: 20, policy: { retryFirstDelayMs: 50, retryDelayMaxMs: 100, attemptsMax: 5, timeoutMs: 2000 } };
  keeper = await startKeeper({ url, store, clock, schedulePollIntervalMs: MINUTE, webhooks });
  cleanup.push(() => keeper.close());
  const worker = createWorker({ url, concurrency: 4, shutdownTimeoutMs: 1000 });
  cleanup.push(() => worker.close());
  for (const name of ['rmqf.hook', 'rmqf.once', 'rmqf.slot']) {
    worker.handle(name, (payload, ctx) => {
      ran.set(name, (ran.get(name) ?? 0) + 1);
      return { payload, attempt: ctx.attempt };
    });
  }
  await worker.start();
  client = connectTasks({ url });
  cleanup.push(() => client.close());
});

after(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
});

test('on RabbitMQ + PostgreSQL, a webhook is signed, retried after a 500, and its attempts are on the task', options, async () => {
  const handle = await client.submit('rmqf.hook', { order: 7 }, { callbackUrl: receiver.url });
  await handle.result({ timeoutMs: 10_000 });
  await waitFor(() => receiver.received.length === 2, 10_000, 'the retried webhook');
  const secret = keeper.webhookSecret(receiver.url);
  for (const request of receiver.received) {
    const payload = verifyWebhook(secret, request.headers as Record<string, string>, request.rawBody) as { type: string; data: { id: string } };
    assert.equal(payload.type, 'task.succeeded');
    assert.equal(payload.data.id, handle.id);
  }
  await waitFor(async () => (await client.get(handle.id))?.webhook?.state === 'delivered', 5000, 'the delivery to be recorded');
  const record = await client.get(handle.id);
  assert.deepEqual(record?.webhook?.attempts.map((attempt) => attempt.status), [500, 200]);
});

test('on RabbitMQ + PostgreSQL, concurrent submits with one idempotency key make one task', options, async () => {
  const handles = await Promise.all(Array.from({ length: 6 }, () => client.submit('rmqf.once', 'x', { idempotencyKey: 'invoice-42' })));
  assert.equal(new Set(handles.map((handle) => handle.id)).size, 1);
  assert.equal(handles.filter((handle) => !handle.replayed).length, 1);
  await (handles[0] as (typeof handles)[number]).result({ timeoutMs: 10_000 });
  assert.equal(ran.get('rmqf.once'), 1);
});

test('on RabbitMQ + PostgreSQL, a cron schedule fires in its slots under a controllable clock', options, async () => {
  await client.schedule('rmqf-every-5', 'rmqf.slot', '*/5 * * * *', { report: 'daily' });
  // One slot at a time: the keeper arms its timer for the next slot only after the pass that the new
  // schedule started (a jump over several slots would count as downtime: only the latest fires).
  for (let slot = 1; slot <= 4; slot++) {
    await clock.advanceTo(START + 3 * MINUTE + (slot - 1) * 5 * MINUTE);
    await waitFor(async () => (await store.list({ name: 'rmqf.slot' })).length === slot, 10_000, `slot ${slot}`);
  }
  await waitFor(async () => (await store.list({ name: 'rmqf.slot', state: 'succeeded' })).length === 4, 10_000, 'four slots');
  // A slot's 'queued' event (it carries the slot's time) may be applied after the worker's outcome
  // (which carries the real time): the records settle on the slot times once both are in.
  const slotTimes = async (): Promise<string[]> =>
    (await store.list({ name: 'rmqf.slot' })).map((record) => new Date(record.createdAt).toISOString().slice(11, 16)).sort();
  const expected = ['00:05', '00:10', '00:15', '00:20'];
  await waitFor(async () => isDeepStrictEqual(await slotTimes(), expected), 10_000, 'slot creation times').catch(() => undefined);
  assert.deepEqual(await slotTimes(), expected);
  assert.equal(ran.get('rmqf.slot'), 4);
});
