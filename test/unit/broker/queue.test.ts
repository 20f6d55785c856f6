import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Message, type QueueEntry } from '../../../src/broker/message.js';
import { ResourceAlarm } from '../../../src/broker/resource-alarm.js';
import { NO_FLOW_CONTROL } from '../../../src/broker/publisher-throttle.js';
import { Queue } from '../../../src/broker/queue.js';

function newQueue(): Queue {
  const owner = { autoDeleteQueue: () => {}, openPagingStore: () => undefined, deadLetter: () => {} };
  const options = { durable: false, exclusiveOwner: null, autoDelete: false, arguments: {} };
  return new Queue('/', 'q', options, owner, NO_FLOW_CONTROL, new ResourceAlarm(Number.POSITIVE_INFINITY));
}

const message = (): Message => new Message('', 'q', Buffer.from([0, 0]), Buffer.alloc(0));

test('a queue always hands out its oldest entry, requeued ones back in their original place', () => {
  const operation = fc.oneof(
    fc.constant({ kind: 'enqueue' as const }),
    fc.constant({ kind: 'shift' as const }),
    fc.record({ kind: fc.constant('requeue' as const), pick: fc.array(fc.nat(), { maxLength: 5 }) }),
  );
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
      const queue = newQueue();
      const available = new Set<number>();
      const delivered: QueueEntry[] = [];
      let next = 0;
      for (const op of operations) {
        if (op.kind === 'enqueue') {
          queue.enqueue(message());
          available.add(next++);
        } else if (op.kind === 'shift') {
          const entry = queue.shift();
          const expected = available.size === 0 ? undefined : Math.min(...available);
          assert.equal(entry?.sequence, expected);
          if (entry !== undefined) {
            available.delete(entry.sequence);
            delivered.push(entry);
          }
        } else {
          const picked = [...new Set(op.pick.filter((index) => index < delivered.length))].sort((a, b) => b - a);
          const entries = picked.map((index) => delivered.splice(index, 1)[0] as QueueEntry);
          queue.requeue(entries);
          for (const entry of entries) {
            assert.equal(entry.redelivered, true);
            available.add(entry.sequence);
          }
        }
        assert.equal(queue.messageCount, available.size);
      }
    }),
  );
});

test('a large batch requeued in reverse order comes back in original order', () => {
  const queue = newQueue();
  for (let i = 0; i < 200_000; i++) queue.enqueue(message());
  const taken: QueueEntry[] = [];
  for (let i = 0; i < 200_000; i++) taken.push(queue.shift() as QueueEntry);
  queue.requeue(taken.reverse());
  assert.equal(queue.messageCount, 200_000);
  for (let i = 0; i < 200_000; i++) assert.equal(queue.shift()?.sequence, i);
});
