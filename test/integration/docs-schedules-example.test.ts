/**
 * The scheduling example (docs/schedules.md, docs/examples/schedules.ts) runs as written against an
 * in-process Warren. Its keeper is the test's own, on a simulated clock, so the cron schedule's first
 * slot comes when the test moves the clock to the next minute instead of up to a minute later.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSchedulesExample } from '../../docs/examples/schedules.js';
import { startKeeper } from '../../src/tasks/keeper.js';
import { waitFor } from '../helpers/amqp.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { MemoryResultStore } from '../helpers/memory-result-store.js';
import { startTasksBroker } from '../helpers/tasks.js';

test('delayMs, runAt and a cron schedule each run the task; the schedule is removed at the end', { timeout: 30_000 }, async (t) => {
  const broker = await startTasksBroker(t);
  const store = new MemoryResultStore();
  // An hour back, so that real timestamps the worker's events carry never come before a slot's.
  const clock = new ManualClock(Date.now() - 3_600_000);
  const keeper = await startKeeper({ url: broker.url, store, clock });
  const printed: string[] = [];
  const example = runSchedulesExample(broker.url, (line) => printed.push(line));
  try {
    await waitFor(async () => (await store.scheduling.listSchedules()).length === 1, 10_000, 'the example to define its schedule');
    await clock.advanceTo(Math.ceil((clock.now() + 1) / 60_000) * 60_000);
    await example;
  } finally {
    await example.catch(() => {});
    await keeper.close();
  }
  assert.deepEqual(printed, [
    'report sent to delayed@example.com',
    'report sent to timed@example.com',
    "schedule minutely-report: '* * * * *' in Europe/Berlin",
    'report sent to ops@example.com',
    'schedules left: 0',
  ]);
  const fired = (await store.list({ name: 'send-report' })).filter((record) => (record.payload as { to: string }).to === 'ops@example.com');
  assert.equal(fired.length, 1);
  assert.equal((fired[0]?.createdAt ?? 1) % 60_000, 0, 'created at its slot, a whole minute');
  assert.equal(fired[0]?.options.attempts, 3);
});
