/**
 * Issue 6 with several keepers on one store, the scale-out case: two keepers (one SQLite file, then one
 * PostgreSQL database, each opened twice) serve one in-process Warren. Concurrent submits with one
 * idempotency key from two clients, answered by either keeper, create one task; a cron schedule fires
 * each slot once. PostgreSQL is skipped outside CI when it is not installed (test/helpers/postgres.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { connectTasks } from '../../src/tasks/client.js';
import { startKeeper, type Keeper } from '../../src/tasks/keeper.js';
import { KeeperRequestError } from '../../src/tasks/task-errors.js';
import { openResultStore, type ResultStore } from '../../src/tasks/store/index.js';
import { NonRetryableError, createWorker } from '../../src/tasks/worker.js';
import { waitFor } from '../helpers/amqp.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { skip as postgresSkip, startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTasksBroker, uniqueTaskName } from '../helpers/tasks.js';

const MINUTE = 60_000;
const START = Date.UTC(2026, 0, 1, 0, 2);

let postgres: TestPostgres | undefined;
let schemas = 0;
before(async () => {
  if (postgresSkip === false) postgres = await startTestPostgres();
});
after(async () => {
  await postgres?.stop();
});

interface StoreKind {
  name: string;
  skip: string | false;
  /** A new location two stores can be opened at. */
  location(t: TestContext): Promise<string>;
}

const kinds: StoreKind[] = [
  {
    name: 'one SQLite file',
    skip: false,
    async location(t) {
      const dir = await mkdtemp(join(tmpdir(), 'warren-two-keepers-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      return join(dir, 'tasks.sqlite');
    },
  },
  {
    name: 'one PostgreSQL database',
    skip: postgresSkip,
    async location() {
      assert.ok(postgres !== undefined, 'PostgreSQL did not start');
      schemas += 1;
      return postgres.createSchema(`two_keepers_${schemas}`);
    },
  },
];

/** A broker, two keepers on two stores opened at one location (one simulated clock), a worker for `name`, two clients. */
async function twoKeepers(t: TestContext, kind: StoreKind, name: string, handler: () => unknown = () => undefined) {
  const closers: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const close of closers.reverse()) await close();
  });
  const broker = await startTasksBroker(t);
  const location = await kind.location(t);
  const clock = new ManualClock(START);
  const stores: ResultStore[] = [];
  const keepers: Keeper[] = [];
  for (let index = 0; index < 2; index++) {
    const store = await openResultStore(location);
    closers.push(() => store.close());
    const keeper = await startKeeper({ url: broker.url, store, clock, schedulePollIntervalMs: MINUTE });
    closers.push(() => keeper.close());
    stores.push(store);
    keepers.push(keeper);
  }
  let runs = 0;
  const worker = createWorker({ url: broker.url, concurrency: 4, shutdownTimeoutMs: 1000 });
  worker.handle(name, () => {
    runs += 1;
    return handler();
  });
  await worker.start();
  closers.push(() => worker.close());
  const clients = [connectTasks({ url: broker.url }), connectTasks({ url: broker.url })];
  for (const client of clients) closers.push(() => client.close());
  return { store: stores[0] as ResultStore, keepers, clock, clients, runs: () => runs };
}

for (const kind of kinds) {
  describe(`two keepers on ${kind.name}`, { skip: kind.skip, timeout: 60_000 }, () => {
    test('concurrent submits with one idempotency key create one task', async (t) => {
      const name = uniqueTaskName('idem2');
      const { store, clients, runs } = await twoKeepers(t, kind, name);
      const handles = await Promise.all(Array.from({ length: 16 }, (_, index) => clients[index % 2]?.submit(name, index, { idempotencyKey: 'one' })));
      assert.equal(new Set(handles.map((handle) => handle?.id)).size, 1);
      assert.equal(handles.filter((handle) => handle?.replayed === false).length, 1);
      await waitFor(async () => (await store.list({ name, state: 'succeeded' })).length === 1, 5000, 'the task run');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(runs(), 1);
      assert.equal((await store.list({ name })).length, 1);
    });

    test('concurrent retries of one failed task through both keepers start one new run', async (t) => {
      const name = uniqueTaskName('retry2');
      let failFirst = true;
      const { store, keepers, clients, runs } = await twoKeepers(t, kind, name, () => {
        if (!failFirst) return 'healed';
        failFirst = false;
        throw new NonRetryableError('the first run fails');
      });
      const handle = await clients[0]?.submit(name, null);
      assert.ok(handle !== undefined);
      await waitFor(async () => (await store.get(handle.id))?.state === 'failed', 5000, 'the failed first run');
      const outcomes = await Promise.allSettled(keepers.map((keeper) => keeper.retry(handle.id)));
      assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1, 'one keeper started run 2');
      const refused = outcomes.find((outcome) => outcome.status === 'rejected');
      assert.ok(refused?.status === 'rejected' && refused.reason instanceof KeeperRequestError && refused.reason.code === 'conflict', String(refused?.status === 'rejected' ? refused.reason : ''));
      await waitFor(async () => (await store.get(handle.id))?.state === 'succeeded', 5000, 'run 2 succeeded');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(runs(), 2, 'the handler ran for run 1 and once for run 2');
      assert.equal((await store.get(handle.id))?.run, 2);
    });

    test('a cron schedule fires each slot once', async (t) => {
      const name = uniqueTaskName('cron2');
      const { store, clock, clients } = await twoKeepers(t, kind, name);
      await clients[0]?.schedule('twice-kept', name, '*/5 * * * *', 'tick');
      await clock.advanceTo(START + 20 * MINUTE);
      await waitFor(async () => (await store.list({ name, state: 'succeeded' })).length >= 4, 10_000, 'four slots run');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const slots = (await store.list({ name })).map((record) => new Date(record.createdAt).toISOString().slice(11, 16)).sort();
      assert.deepEqual(slots, ['00:05', '00:10', '00:15', '00:20']);
    });
  });
}
