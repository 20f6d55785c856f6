/** MessageBatcher: the messages of one event-loop turn travel as one array, and one that cannot be cloned fails alone. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { MessageBatcher } from '../../../src/tasks/store/message-batcher.js';

const END_OF_TURN = 'end of turn';

/** A real message channel whose far end collects every message it receives. */
function channel(): { batcher: MessageBatcher<unknown>; received: unknown[]; unsendable: unknown[]; drained(): Promise<void>; close(): void } {
  const { port1, port2 } = new MessageChannel();
  const received: unknown[] = [];
  const unsendable: unknown[] = [];
  port2.on('message', (message: unknown) => received.push(message));
  const batcher = new MessageBatcher<unknown>((batch) => port1.postMessage(batch), (message) => unsendable.push(message));
  return {
    batcher, received, unsendable,
    /** Waits until what the batcher queued this turn has arrived (a channel keeps the order of its messages). */
    drained: async () => {
      await new Promise((resolve) => setImmediate(resolve)); // the batcher posts in the check phase, before this
      port1.postMessage(END_OF_TURN);
      while (received.at(-1) !== END_OF_TURN) await once(port2, 'message');
      received.pop();
    },
    close: () => port1.close(),
  };
}

test('messages added in one turn are posted as one array, in order; a later turn posts its own', async () => {
  const { batcher, received, drained, close } = channel();
  batcher.add(1);
  await Promise.resolve(); // microtasks of the same turn still join the batch
  batcher.add({ two: 2 });
  batcher.add('three');
  await drained();
  batcher.add(4);
  await drained();
  close();
  assert.deepEqual(received, [[1, { two: 2 }, 'three'], [4]]);
});

test('a message that cannot be cloned is reported alone; the rest of its batch is delivered', async () => {
  const { batcher, received, unsendable, drained, close } = channel();
  const unclonable = { handler: () => undefined };
  batcher.add('before');
  batcher.add(unclonable);
  batcher.add('after');
  await drained();
  close();
  assert.deepEqual(unsendable, [unclonable]);
  assert.deepEqual(received.flat(), ['before', 'after']);
});

test('clear drops what was not posted yet', async () => {
  const { batcher, received, drained, close } = channel();
  batcher.add('dropped');
  batcher.clear();
  batcher.add('kept');
  await drained();
  close();
  assert.deepEqual(received, [['kept']]);
});
