/**
 * The keeper lets the 'queued' events of a busy submitter's batch wait in its SQLite store for their
 * tasks' outcomes (ApplyOptions.mayWait, held-applies.ts), so that each row is written once; never
 * those of a lone event or a small batch, and never for more than a quarter of its prefetch in messages,
 * so that the outcomes that release them always have room. On an in-process Warren, with a real store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { delay, openClient, waitFor } from '../helpers/amqp.js';
import { startTasksBroker, uniqueTaskName } from '../helpers/tasks.js';
import { startKeeper } from '../../src/tasks/keeper.js';
import { DEFAULT_TASK_OPTIONS, TASK_EVENTS_EXCHANGE, TASK_PROTOCOL_VERSION, type TaskEvent } from '../../src/tasks/protocol.js';
import { SqliteResultStore } from '../../src/tasks/store/index.js';
import type { ApplyListener, ApplyOptions, TaskRecord } from '../../src/tasks/store/result-store.js';
import { queuedEvent } from '../../src/tasks/task-message.js';

/**
 * A SQLite store that notes, per event, whether the keeper let it wait, and which applies are committed
 * (the keeper applies through applyThen, which the SQLite store offers; apply is noted all the same).
 */
class RecordingStore extends SqliteResultStore {
  readonly mayWait = new Map<string, boolean>();
  readonly committed = new Set<string>();

  override apply(event: TaskEvent, options?: ApplyOptions): Promise<TaskRecord> {
    const key = this.#noted(event, options);
    const applying = super.apply(event, options);
    applying.then(() => this.committed.add(key), () => undefined);
    return applying;
  }

  override applyThen<C>(event: TaskEvent, options: ApplyOptions | undefined, listener: ApplyListener<C>, context: C): void {
    const key = this.#noted(event, options);
    const noting: ApplyListener<C> = {
      applied: (record, applied, noted) => {
        this.committed.add(key);
        listener.applied(record, applied, noted);
      },
      refused: (error, refused, noted) => listener.refused(error, refused, noted),
    };
    super.applyThen(event, options, noting, context);
  }

  #noted(event: TaskEvent, options: ApplyOptions | undefined): string {
    const key = `${event.kind}:${event.id}`;
    this.mayWait.set(key, options?.mayWait === true);
    return key;
  }
}

test("a busy submitter's queued events wait in the store for their outcomes, within a quarter of the prefetch", async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'warren-keeper-held-'));
  const broker = await startTasksBroker(t);
  const store = new RecordingStore(join(directory, 'tasks.sqlite'), { holdMs: 60_000 });
  // A prefetch of 8: at most 2 messages whose queued events wait.
  const keeper = await startKeeper({ url: broker.url, store, prefetch: 8 });
  t.after(async () => {
    await keeper.close();
    await store.close();
    rmSync(directory, { recursive: true, force: true });
  });
  const channel = await (await openClient(t, broker.url)).confirmChannel();
  const name = uniqueTaskName('held');
  const ids = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
  const queued = (id: string): TaskEvent =>
    queuedEvent({ id, name, payloadJson: JSON.stringify({ id }), options: DEFAULT_TASK_OPTIONS, run: 1, enqueuedAt: 1_700_000_000_000 }, 1_700_000_000_000);
  const succeeded = (id: string): TaskEvent => ({
    protocol: TASK_PROTOCOL_VERSION, kind: 'succeeded', id, name, run: 1, attempt: 1, at: 1_700_000_000_100, result: id, startedAt: 1_700_000_000_050, worker: 'w',
  });
  const publishBatch = (events: TaskEvent[]): void => {
    channel.publish(TASK_EVENTS_EXCHANGE, `batch.${name}`, Buffer.from(JSON.stringify(events)), { deliveryMode: 2, contentType: 'application/json' });
  };

  const batches = { a: ids('a', 20), b: ids('b', 3), c: ids('c', 20), d: ids('d', 20) };
  for (const batch of Object.values(batches)) publishBatch(batch.map(queued));
  await channel.waitForConfirms();
  await waitFor(() => store.mayWait.size === 63, 5000, 'every queued event applied');

  const waited = (batch: string[]): boolean[] => batch.map((id) => store.mayWait.get(`queued:${id}`) ?? false);
  assert.deepEqual(waited(batches.a), batches.a.map(() => true), 'a batch of 20: may wait');
  assert.deepEqual(waited(batches.b), batches.b.map(() => false), 'a batch of 3: committed at once');
  assert.deepEqual(waited(batches.c), batches.c.map(() => true), 'the second waiting message');
  assert.deepEqual(waited(batches.d), batches.d.map(() => false), 'a third would pass a quarter of the prefetch');

  const committed = (batch: string[], kind = 'queued'): boolean => batch.every((id) => store.committed.has(`${kind}:${id}`));
  await waitFor(() => committed(batches.b) && committed(batches.d), 5000, 'the events that may not wait committed');
  await delay(100);
  assert.ok(batches.a.every((id) => !store.committed.has(`queued:${id}`)), 'the waiting ones still wait');

  // Their outcomes release them: each task's row is written with both events at once.
  publishBatch([...batches.a, ...batches.c].map(succeeded));
  await channel.waitForConfirms();
  await waitFor(() => committed(batches.a) && committed(batches.c) && committed([...batches.a, ...batches.c], 'succeeded'), 5000, 'the waiting events committed with their outcomes');
  assert.ok([...batches.a, ...batches.c].every((id) => store.mayWait.get(`succeeded:${id}`) === false), 'a batch of outcomes is not a submitter\'s');
  for (const id of [...batches.a, ...batches.c]) {
    const record = await store.get(id);
    assert.equal(record?.state, 'succeeded', id);
    assert.deepEqual(record?.payload, { id });
    assert.deepEqual((await store.history(id)).map((event) => event.kind), ['queued', 'succeeded']);
  }
  // A and C count no more once their events are committed: a new big batch may wait again.
  const e = ids('e', 20);
  publishBatch(e.map(queued));
  await channel.waitForConfirms();
  await waitFor(() => e.every((id) => store.mayWait.has(`queued:${id}`)), 5000, 'the next batch applied');
  assert.deepEqual(waited(e), e.map(() => true));
});
