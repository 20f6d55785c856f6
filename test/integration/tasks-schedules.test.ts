/**
 * Issue 6, cron schedules and runAt on an in-process Warren with real keepers, a real worker and a
 * SQLite result store: under a simulated clock a schedule fires in exactly its slots (time zone
 * honoured), once per slot with two keepers on one store, survives a keeper and broker restart (firing
 * the latest missed slot once, not a burst), and a slot claimed by a keeper that died before submitting
 * is submitted by another after the claim lease. runAt holds a task until its time.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startWarren } from '../../src/main.js';
import { connectTasks, type TasksClient } from '../../src/tasks/client.js';
import { startKeeper, type Keeper } from '../../src/tasks/keeper.js';
import { SqliteResultStore } from '../../src/tasks/store/sqlite-store.js';
import { TaskValidationError } from '../../src/tasks/task-errors.js';
import { createWorker } from '../../src/tasks/worker.js';
import { waitFor } from '../helpers/amqp.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { startTasksBroker, uniqueTaskName } from '../helpers/tasks.js';

const MINUTE = 60_000;
const START = Date.UTC(2026, 0, 1, 0, 2);
const options = { timeout: 60_000 };
const inProcessOnly = { ...options, skip: process.env['WARREN_TEST_URL'] ? 'restarts the in-process broker' : false };

/**
 * Registers an after hook that runs the closers given to the function it returns, last first. Made
 * before the broker starts, it runs before the broker's own hook: workers and keepers close first.
 */
type Defer = (close: () => Promise<unknown>) => void;

function closeFirst(t: TestContext): (close: () => Promise<unknown>) => void {
  const closers: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const close of closers.reverse()) await close();
  });
  return (close) => closers.push(close);
}

async function tempStorePath(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'warren-schedules-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'tasks.sqlite');
}

function openStore(defer: Defer, path: string): SqliteResultStore {
  const store = new SqliteResultStore(path);
  defer(() => store.close());
  return store;
}

async function keeperOn(defer: Defer, url: string, store: SqliteResultStore, clock: ManualClock, pollMs = MINUTE): Promise<Keeper> {
  const keeper = await startKeeper({ url, store, clock, schedulePollIntervalMs: pollMs });
  defer(() => keeper.close());
  return keeper;
}

/** A worker that runs `name` and records each payload it got, and a client. */
async function workerAndClient(defer: Defer, url: string, name: string): Promise<{ tasks: TasksClient; ran: unknown[] }> {
  const ran: unknown[] = [];
  const worker = createWorker({ url, concurrency: 4, shutdownTimeoutMs: 1000 });
  worker.handle(name, (payload) => {
    ran.push(payload);
    return 'done';
  });
  await worker.start();
  defer(() => worker.close());
  const tasks = connectTasks({ url });
  defer(() => tasks.close());
  return { tasks, ran };
}

/** createdAt of the succeeded tasks of `name` (a scheduled task's createdAt is its slot), oldest first. */
async function firedSlots(store: SqliteResultStore, name: string): Promise<string[]> {
  const records = await store.list({ name, state: 'succeeded' });
  return records.map((record) => new Date(record.createdAt).toISOString()).sort();
}

async function waitForSlots(store: SqliteResultStore, name: string, count: number): Promise<string[]> {
  await waitFor(async () => (await firedSlots(store, name)).length >= count, 10_000, `${count} scheduled tasks of ${name}`);
  // Anything fired twice would have arrived with the others; give a straggler a moment anyway.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return firedSlots(store, name);
}

test("'*/5 * * * *' across 20 simulated minutes submits exactly 4 tasks, at the slot times, with the payload", options, async (t) => {
  const defer = closeFirst(t);
  const broker = await startTasksBroker(t);
  const store = openStore(defer, await tempStorePath(t));
  const clock = new ManualClock(START);
  await keeperOn(defer, broker.url, store, clock);
  const name = uniqueTaskName('every5');
  const { tasks, ran } = await workerAndClient(defer, broker.url, name);
  const schedule = await tasks.schedule('every-5', name, '*/5 * * * *', { report: 'daily' }, { options: { attempts: 2 } });
  assert.equal(schedule.createdAt, START);
  assert.equal(schedule.tz, 'UTC');
  assert.equal(schedule.options.attempts, 2);
  assert.deepEqual((await tasks.schedules()).map((s) => s.id), ['every-5']);
  await clock.advanceTo(START + 20 * MINUTE);
  assert.deepEqual(await waitForSlots(store, name, 4), ['00:05', '00:10', '00:15', '00:20'].map((hm) => `2026-01-01T${hm}:00.000Z`));
  assert.deepEqual(ran, Array(4).fill({ report: 'daily' }));
  const record = (await store.list({ name }))[0];
  assert.equal(record?.options.attempts, 2);
});

test('the time zone is honoured: 09:30 in New York is 14:30 UTC in winter', options, async (t) => {
  const defer = closeFirst(t);
  const broker = await startTasksBroker(t);
  const store = openStore(defer, await tempStorePath(t));
  const clock = new ManualClock(START);
  await keeperOn(defer, broker.url, store, clock, 60 * MINUTE);
  const name = uniqueTaskName('newyork');
  const { tasks } = await workerAndClient(defer, broker.url, name);
  await tasks.schedule('morning-report', name, '30 9 * * *', null, { tz: 'America/New_York' });
  await clock.advanceTo(START + 2 * 24 * 60 * MINUTE);
  assert.deepEqual(await waitForSlots(store, name, 2), ['2026-01-01T14:30:00.000Z', '2026-01-02T14:30:00.000Z']);
});

test('two keepers on one store fire each slot once', options, async (t) => {
  const defer = closeFirst(t);
  const broker = await startTasksBroker(t);
  const path = await tempStorePath(t);
  const first = openStore(defer, path);
  const second = openStore(defer, path);
  const clock = new ManualClock(START);
  await keeperOn(defer, broker.url, first, clock);
  await keeperOn(defer, broker.url, second, clock);
  const name = uniqueTaskName('twokeepers');
  const { tasks } = await workerAndClient(defer, broker.url, name);
  await tasks.schedule('shared', name, '*/5 * * * *', 'tick');
  await clock.advanceTo(START + 20 * MINUTE);
  assert.deepEqual((await waitForSlots(first, name, 4)).length, 4);
  assert.equal((await first.list({ name })).length, 4, 'no slot fired twice');
});

test('a schedule survives a keeper and broker restart; the latest slot missed meanwhile fires once', inProcessOnly, async (t) => {
  const defer = closeFirst(t);
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-schedules-node-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const path = join(dataDir, 'keeper-tasks.sqlite');
  const clock = new ManualClock(START);
  const name = uniqueTaskName('restart');
  const nodeOptions = { amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' as const, tasks: { keeperEnabled: false } };

  const node = await startWarren(nodeOptions);
  const url = `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
  const store = new SqliteResultStore(path);
  const keeper = await startKeeper({ url, store, clock, schedulePollIntervalMs: MINUTE });
  const tasks = connectTasks({ url });
  await tasks.schedule('survivor', name, '*/5 * * * *', 'again');
  await clock.advanceTo(START + 5 * MINUTE);
  await waitFor(async () => (await store.list({ name })).length === 1, 5000, 'the first slot recorded');
  await tasks.close();
  await keeper.close();
  await store.close();
  await node.close();

  // Down from 00:05 to 00:22: the slots 00:10, 00:15 and 00:20 are missed; only 00:20 fires, late.
  await clock.advanceTo(START + 20 * MINUTE);
  const restarted = await startWarren(nodeOptions);
  defer(() => restarted.close());
  const restartedUrl = `amqp://guest:guest@127.0.0.1:${restarted.amqpPort}`;
  const reopened = openStore(defer, path);
  await keeperOn(defer, restartedUrl, reopened, clock);
  const { tasks: again } = await workerAndClient(defer, restartedUrl, name);
  assert.deepEqual((await again.schedules()).map((s) => s.id), ['survivor']);
  await clock.advanceTo(START + 25 * MINUTE);
  assert.deepEqual(await waitForSlots(reopened, name, 3), ['00:05', '00:20', '00:25'].map((hm) => `2026-01-01T${hm}:00.000Z`));
});

test('a slot claimed by a keeper that died before submitting is submitted by another after the lease', options, async (t) => {
  const defer = closeFirst(t);
  const broker = await startTasksBroker(t);
  const store = openStore(defer, await tempStorePath(t));
  const clock = new ManualClock(START);
  const name = uniqueTaskName('lease');
  const { tasks } = await workerAndClient(defer, broker.url, name);
  const keeper = await startKeeper({ url: broker.url, store, clock, schedulePollIntervalMs: MINUTE, scheduleClaimLeaseMs: 2 * MINUTE });
  defer(() => keeper.close());
  await tasks.schedule('orphan', name, '0 * * * *', 'hourly');
  // What a keeper that died between its claim and its publish leaves behind: the 01:00 slot, claimed.
  assert.equal(await store.scheduling.claimScheduleSlot({ scheduleId: 'orphan', slotAt: Date.UTC(2026, 0, 1, 1), taskId: 'orphan-0100', claimedAt: Date.UTC(2026, 0, 1, 1) }), true);
  await clock.advanceTo(Date.UTC(2026, 0, 1, 1, 1));
  assert.equal(await store.get('orphan-0100'), undefined, 'within the lease the slot is left to its keeper');
  await clock.advanceTo(Date.UTC(2026, 0, 1, 1, 3));
  await waitFor(async () => (await store.get('orphan-0100'))?.state === 'succeeded', 5000, 'the orphaned slot run');
  assert.equal((await store.list({ name })).length, 1, 'the slot ran once, with the claimed task id');
});

test('unschedule stops a schedule; bad definitions are refused with clear errors', options, async (t) => {
  const defer = closeFirst(t);
  const broker = await startTasksBroker(t);
  const store = openStore(defer, await tempStorePath(t));
  const clock = new ManualClock(START);
  await keeperOn(defer, broker.url, store, clock);
  const name = uniqueTaskName('stopped');
  const { tasks } = await workerAndClient(defer, broker.url, name);
  await tasks.schedule('brief', name, '*/5 * * * *', null);
  await clock.advanceTo(START + 5 * MINUTE);
  await waitForSlots(store, name, 1);
  assert.equal(await tasks.unschedule('brief'), true);
  assert.equal(await tasks.unschedule('brief'), false);
  await clock.advanceTo(START + 30 * MINUTE);
  assert.equal((await waitForSlots(store, name, 1)).length, 1);
  const refused = (error: unknown): boolean => error instanceof TaskValidationError;
  await assert.rejects(tasks.schedule('x', name, '* * * *', null), refused, 'four fields');
  await assert.rejects(tasks.schedule('x', name, '0 0 0 * * *', null), refused, 'six fields');
  await assert.rejects(tasks.schedule('x', name, '61 * * * *', null), refused, 'minute 61');
  await assert.rejects(tasks.schedule('x', name, '* * * * *', null, { tz: 'Mars/Olympus' }), refused, 'unknown zone');
  await assert.rejects(tasks.schedule('bad id!', name, '* * * * *', null), refused, 'bad id');
  await assert.rejects(tasks.schedule('x', name, '* * * * *', null, { options: { delayMs: 5 } as never }), refused, 'delayMs');
});

test('runAt holds a task until its time; a past runAt runs at once; runAt with delayMs is refused', options, async (t) => {
  const defer = closeFirst(t);
  const broker = await startTasksBroker(t);
  const name = uniqueTaskName('runat');
  const { tasks } = await workerAndClient(defer, broker.url, name);
  const store = openStore(defer, await tempStorePath(t));
  await keeperOn(defer, broker.url, store, new ManualClock(Date.now()));
  const submittedAt = Date.now();
  const later = await tasks.submit(name, 'later', { runAt: new Date(submittedAt + 700).toISOString() });
  const past = await tasks.submit(name, 'past', { runAt: submittedAt - 60_000 });
  await past.result({ timeoutMs: 5000 });
  assert.ok(Date.now() - submittedAt < 700, 'a past runAt ran at once');
  await later.result({ timeoutMs: 5000 });
  await waitFor(async () => (await store.get(later.id))?.state === 'succeeded', 3000, 'the delayed task recorded');
  const record = await store.get(later.id);
  assert.ok(record?.startedAt !== undefined && record.startedAt >= submittedAt + 700 - 5, 'started at runAt, not before');
  assert.ok(record.options.delayMs > 600 && record.options.delayMs <= 700, `delayMs ${record.options.delayMs}`);
  await assert.rejects(tasks.submit(name, null, { runAt: Date.now() + 10, delayMs: 10 }), /delayMs or runAt, not both/);
  await assert.rejects(tasks.submit(name, null, { runAt: 'next tuesday' }), TaskValidationError);
});
