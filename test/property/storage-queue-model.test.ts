/**
 * Property: under any sequence of append / ack / markDelivered / purge / sync / clean restart / crash
 * (after a sync, or losing everything since the last sync), a queue's message store agrees with a plain
 * in-memory model: recovery returns exactly the unacknowledged messages in order, redelivered exactly
 * when marked delivered, read() returns what was appended, and dead segments do not linger on disk.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { MessageLocation, QueueMessageStore, QueueRecovery } from '../../src/broker/ports.js';
import { FileMessageStore, QUEUES_DIRECTORY, queueDirectoryName } from '../../src/storage/message-store.js';
import { segmentOf } from '../../src/storage/location.js';

type Operation =
  | { kind: 'append'; size: number }
  | { kind: 'ack' | 'deliver' | 'read'; pick: number }
  | { kind: 'purge' | 'sync' | 'restart' | 'crash' | 'lose-unsynced' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), size: fc.integer({ min: 0, max: 120 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('ack' as const, 'deliver' as const, 'read' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('sync' as const, 'restart' as const, 'crash' as const, 'lose-unsynced' as const) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'purge' as const }) },
);

interface ModelMessage {
  body: string;
  location: MessageLocation;
  delivered: boolean;
}

interface Harness {
  data: string;
  store: FileMessageStore;
  queue: QueueMessageStore;
}

const SEGMENT_SIZE_BYTES = 300;

function open(data: string): Harness & { recovery: QueueRecovery } {
  const store = new FileMessageStore(data, { segmentSizeBytes: SEGMENT_SIZE_BYTES, autoSyncIntervalMs: 60_000 });
  const { store: queue, recovery } = store.openQueue('/', 'model');
  return { data, store, queue, recovery };
}

const synced = (store: FileMessageStore): Promise<void> =>
  new Promise((resolve, reject) => store.sync((error) => (error === undefined ? resolve() : reject(error))));

function checkRecovery(recovery: QueueRecovery, model: ModelMessage[]): void {
  assert.deepEqual(recovery.warnings, []);
  assert.equal(recovery.droppedRecords, 0);
  assert.deepEqual(
    recovery.messages.map((m) => [m.message?.body.toString(), m.redelivered]),
    model.map((m) => [m.body, m.delivered]),
  );
  // Delivered flags are kept as they are: a delivered mark stays on disk across further restarts.
  recovery.messages.forEach((m, i) => ((model[i] as ModelMessage).location = m.location));
}

interface Model {
  messages: ModelMessage[];
  /** The model as of the last completed sync: what a crash that loses unsynced changes goes back to. */
  durable: ModelMessage[];
  next: number;
}

const copy = (messages: ModelMessage[]): ModelMessage[] => messages.map((m) => ({ ...m }));

async function step(h: Harness, op: Operation, state: Model): Promise<Harness> {
  const model = state.messages;
  switch (op.kind) {
    case 'append': {
      const body = `#${state.next++}:`.padEnd(op.size, '~');
      model.push({ body, location: h.queue.append({ exchange: 'x', routingKey: 'k', rawProperties: Buffer.from([0, 0]), body: Buffer.from(body) }), delivered: false });
      return h;
    }
    case 'ack':
    case 'deliver':
    case 'read': {
      if (model.length === 0) return h;
      const index = op.pick % model.length;
      const target = model[index] as ModelMessage;
      if (op.kind === 'ack') {
        h.queue.ack(target.location);
        model.splice(index, 1);
      } else if (op.kind === 'deliver') {
        h.queue.markDelivered(target.location);
        target.delivered = true;
      } else {
        assert.equal(h.queue.read(target.location).body.toString(), target.body);
      }
      return h;
    }
    case 'purge':
      h.queue.purge();
      model.length = 0;
      return h;
    case 'sync':
      await synced(h.store);
      state.durable = copy(model);
      return h;
    case 'lose-unsynced':
      // No round runs between syncs here (the timer is a minute), so nothing since the last sync was written.
      h.store.closeWithoutFlush();
      state.messages = copy(state.durable);
      return reopenChecked(h.data, state);
    case 'restart':
    case 'crash':
      if (op.kind === 'restart') await h.store.close();
      else {
        await synced(h.store);
        h.store.closeWithoutFlush();
      }
      return reopenChecked(h.data, state);
  }
}

function reopenChecked(data: string, state: Model): Harness {
  const next = open(data);
  checkRecovery(next.recovery, state.messages);
  state.durable = copy(state.messages);
  return next;
}

test('a queue store behaves like an in-memory model across restarts and crashes', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(operation, { maxLength: Number(process.env.WARREN_PROPERTY_OPERATIONS ?? 40) }), async (operations) => {
      const data = mkdtempSync(join(tmpdir(), 'warren-storage-model-'));
      let h: Harness = open(data);
      try {
        const state: Model = { messages: [], durable: [], next: 0 };
        for (const op of operations) h = await step(h, op, state);
        await synced(h.store);
        const model = state.messages;
        const directory = join(data, QUEUES_DIRECTORY, queueDirectoryName('/', 'model'));
        const segmentFiles = readdirSync(directory).filter((name) => name.endsWith('.seg')).length;
        const liveSegments = new Set(model.map((m) => segmentOf(m.location))).size;
        assert.ok(segmentFiles <= liveSegments + 1, `${segmentFiles} segment files for ${liveSegments} live segments`);
        await h.store.close();
        const final = open(data);
        h = final;
        checkRecovery(final.recovery, model);
      } finally {
        h.store.closeWithoutFlush();
        rmSync(data, { recursive: true, force: true });
      }
    }),
    { numRuns: Number(process.env.WARREN_PROPERTY_RUNS ?? 60) },
  );
});
