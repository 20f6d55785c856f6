// Scheduling (docs/schedules.md): a task delayed by delayMs, one run at an absolute time with runAt,
// and a cron schedule that a keeper fires every minute (Berlin time) until it is removed. Checked by
// test/integration/docs-schedules-example.test.ts. Run it on a broker whose keeper runs (`warren
// server` runs one) with
//   npx tsx docs/examples/schedules.ts amqp://guest:guest@localhost:5672
// It waits for the schedule's first slot: up to a minute. (An application imports from 'warren'.)
import { fileURLToPath } from 'node:url';
import { connectTasks, createWorker, type TasksClient } from '../../src/tasks/index.js';

/** Runs the three kinds of scheduling, printing each result. */
export async function runSchedulesExample(url: string, print: (line: string) => void = console.log): Promise<void> {
  const worker = createWorker({ url, concurrency: 2 });
  worker.handle<{ to: string }, string>('send-report', ({ to }) => `report sent to ${to}`);
  await worker.start();
  const tasks = connectTasks({ url });
  try {
    // Relative: run half a second from now.
    const delayed = await tasks.submit<{ to: string }, string>('send-report', { to: 'delayed@example.com' }, { delayMs: 500 });
    // Absolute: run at a given time (a Date, ms since the epoch, or an ISO 8601 string); a past time runs now.
    const timed = await tasks.submit<{ to: string }, string>('send-report', { to: 'timed@example.com' }, { runAt: new Date(Date.now() + 1000) });
    print(await delayed.result());
    print(await timed.result());

    // Recurring: every minute, read in Berlin time, each slot fired once by one keeper.
    const schedule = await tasks.schedule('minutely-report', 'send-report', '* * * * *', { to: 'ops@example.com' }, { tz: 'Europe/Berlin', options: { attempts: 3 } });
    print(`schedule ${schedule.id}: '${schedule.cron}' in ${schedule.tz}`);
    print(await firstScheduledResult(tasks, 'ops@example.com'));
    await tasks.unschedule('minutely-report');
    print(`schedules left: ${(await tasks.schedules()).length}`);
  } finally {
    await tasks.close();
    await worker.close();
  }
}

/** The result of the first scheduled 'send-report' to `to`, from the keeper's records. */
async function firstScheduledResult(tasks: TasksClient, to: string): Promise<string> {
  for (;;) {
    const [done] = (await tasks.list({ name: 'send-report', state: 'succeeded' })).filter((record) => (record.payload as { to?: string }).to === to);
    if (done !== undefined) return String(done.result);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runSchedulesExample(process.argv[2] ?? 'amqp://guest:guest@localhost:5672');
}
