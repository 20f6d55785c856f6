/**
 * Two result keepers sharing one PostgreSQL store (a private server, test/helpers/postgres.ts) and one
 * signing key, both polling for due webhook deliveries every 20 ms: every finished task's webhook is
 * sent, every request the receiver got is an attempt recorded on its task (none made twice by the two
 * keepers), and both keepers hand out the same secret. In CI a missing PostgreSQL fails this file.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connectTasks, createWorker, startKeeper, verifyWebhook, type Keeper } from '../../src/tasks/index.js';
import { PostgresResultStore } from '../../src/tasks/store/postgres-store.js';
import { newWebhookSigningKey } from '../../src/tasks/webhooks/webhook-endpoint.js';
import { waitFor } from '../helpers/amqp.js';
import { skip, startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTestBroker } from '../helpers/broker.js';
import { uniqueTaskName } from '../helpers/tasks.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

const TASKS = 20;
let server: TestPostgres | undefined;

before(async () => {
  if (skip === false) server = await startTestPostgres();
});
after(async () => {
  await server?.stop();
});

test('two keepers on one PostgreSQL store send each webhook attempt once', { skip: skip !== false ? skip : process.env['WARREN_TEST_URL'] ? 'runs its own Warren' : false, timeout: 60_000 }, async (t) => {
  assert.ok(server !== undefined, 'the PostgreSQL server did not start');
  // node:test runs after-hooks first registered first: these run newest first instead, the broker last.
  const cleanups: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const broker = await startTestBroker({ tasks: { keeperEnabled: false } });
  cleanups.push(() => broker.close());
  const location = await server.createSchema('webhooks_two_keepers');
  const signingKey = newWebhookSigningKey();
  const webhooks = { signingKey, pollIntervalMs: 20, policy: { retryFirstDelayMs: 30, retryDelayMaxMs: 60, attemptsMax: 10, timeoutMs: 2000 } };
  const keepers: Keeper[] = [];
  for (let index = 0; index < 2; index++) {
    const store = await PostgresResultStore.open(location);
    cleanups.push(() => store.close());
    const keeper = await startKeeper({ url: broker.url, store, webhooks });
    cleanups.push(() => keeper.close());
    keepers.push(keeper);
  }
  // Every fourth request fails, so some deliveries are retried while both keepers look for due ones.
  const receiver = await startWebhookReceiver(Array.from({ length: 200 }, (_, index) => (index % 4 === 0 ? 500 : 200)));
  cleanups.push(() => receiver.close());
  const secret = keepers[0]?.webhookSecret(receiver.url) ?? '';
  assert.equal(keepers[1]?.webhookSecret(receiver.url), secret);

  const name = uniqueTaskName('webhooks-keepers');
  const worker = createWorker({ url: broker.url, concurrency: 4 });
  worker.handle<number, number>(name, (n) => n + 1);
  await worker.start();
  cleanups.push(() => worker.close());
  const tasks = connectTasks({ url: broker.url });
  cleanups.push(() => tasks.close());
  const handles = await Promise.all(Array.from({ length: TASKS }, (_, n) => tasks.submit<number, number>(name, n, { callbackUrl: receiver.url })));

  const delivered = async (): Promise<boolean> => {
    const records = await Promise.all(handles.map((handle) => keepers[0]?.get(handle.id)));
    return records.every((record) => record?.webhook?.state === 'delivered');
  };
  await waitFor(delivered, 30_000, 'every webhook delivered');
  const records = await Promise.all(handles.map((handle) => tasks.get(handle.id)));
  const recordedAttempts = records.reduce((sum, record) => sum + (record?.webhook?.attempts.length ?? 0), 0);
  assert.equal(receiver.received.length, recordedAttempts, 'each request the receiver got is one recorded attempt');
  for (const record of records) {
    const requests = receiver.received.filter((request) => request.headers['webhook-id'] === record?.webhook?.id);
    assert.deepEqual(requests.map((request) => request.answeredWith), record?.webhook?.attempts.map((attempt) => attempt.status));
    const payload = verifyWebhook(secret, requests[0]?.headers ?? {}, requests[0]?.rawBody ?? '') as { data: { id: string; result: number } };
    assert.equal(payload.data.id, record?.id);
  }
  assert.ok(receiver.received.some((request) => request.answeredWith === 500), 'some attempts failed and were retried');
});
