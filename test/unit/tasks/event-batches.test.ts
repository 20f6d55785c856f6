/**
 * EventBatches (src/tasks/event-batches.ts): the events added in one event-loop turn leave at its end,
 * one message per task name (a JSON array under `batch.<name>`, or the event alone under
 * `<kind>.<name>`), and each event settles with its message's confirm.
 */
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { test } from 'node:test';
import { BATCH_CHARS_MAX, BATCH_EVENTS_MAX, EventBatches, jsonArray } from '../../../src/tasks/event-batches.js';

/** What EventBatches sent, and the confirms a test answers them with. */
function recorder(): { sent: { routingKey: string; body: string }[]; confirms: { resolve: (n: number) => void; reject: (e: unknown) => void }[]; batches: EventBatches } {
  const sent: { routingKey: string; body: string }[] = [];
  const confirms: { resolve: (n: number) => void; reject: (e: unknown) => void }[] = [];
  const batches = new EventBatches((routingKey, body) => {
    sent.push({ routingKey, body });
    return new Promise((resolve, reject) => confirms.push({ resolve, reject }));
  });
  return { sent, confirms, batches };
}

test('events of one turn go out at its end, one message per task name; an event alone keeps its own routing key', async () => {
  const { sent, confirms, batches } = recorder();
  const a1 = batches.add('succeeded', 'a', '{"n":1}');
  const b1 = batches.add('failed', 'b', '{"n":2}');
  const a2 = batches.add('dead', 'a', '{"n":3}');
  assert.equal(sent.length, 0, 'nothing leaves before the turn ends');
  await nextTurn();
  assert.deepEqual(sent, [
    { routingKey: 'batch.a', body: '[{"n":1},{"n":3}]' },
    { routingKey: 'failed.b', body: '{"n":2}' },
  ]);
  assert.deepEqual(JSON.parse(sent[0]!.body), [{ n: 1 }, { n: 3 }]);

  let settled = 0;
  for (const event of [a1, a2, b1]) void event.then(() => settled++, () => settled++);
  confirms[1]!.reject(new Error('nacked'));
  await assert.rejects(b1, /nacked/);
  assert.equal(settled, 1, 'the other message is still unconfirmed');
  confirms[0]!.resolve(7);
  assert.deepEqual(await Promise.all([a1, a2]), [7, 7]);

  batches.add('succeeded', 'a', '{"n":4}');
  await nextTurn();
  assert.deepEqual(sent[2], { routingKey: 'succeeded.a', body: '{"n":4}' }, 'the next turn starts a new message');
});

test('a publish made afterEvents goes out after the events of its turn, and settles as its own publish does', async () => {
  const order: string[] = [];
  const batches = new EventBatches((routingKey) => {
    order.push(routingKey);
    return Promise.resolve(1);
  });
  const reply = batches.afterEvents(async () => {
    order.push('reply');
    return 2;
  });
  const event = batches.add('succeeded', 'a', '{}');
  const failing = batches.afterEvents(() => Promise.reject(new Error('no route')));
  assert.deepEqual(order, []);
  assert.deepEqual(await Promise.all([event, reply]), [1, 2]);
  assert.deepEqual(order, ['succeeded.a', 'reply']);
  await assert.rejects(failing, /no route/);
});

test('a batch holds at most BATCH_EVENTS_MAX events and BATCH_CHARS_MAX characters; a longer event goes alone', async () => {
  const { sent, batches } = recorder();
  for (let i = 0; i < BATCH_EVENTS_MAX + 3; i++) void batches.add('succeeded', 'many', `${i}`);
  await nextTurn();
  assert.deepEqual(sent.map((message) => message.routingKey), ['batch.many', 'batch.many']);
  assert.equal((JSON.parse(sent[0]!.body) as unknown[]).length, BATCH_EVENTS_MAX);
  assert.deepEqual(JSON.parse(sent[1]!.body), [BATCH_EVENTS_MAX, BATCH_EVENTS_MAX + 1, BATCH_EVENTS_MAX + 2]);

  sent.length = 0;
  const third = `"${'x'.repeat(BATCH_CHARS_MAX / 3)}"`;
  const huge = `"${'y'.repeat(BATCH_CHARS_MAX * 2)}"`;
  for (const body of [third, third, huge, '1', third, third, third]) void batches.add('succeeded', 'big', body);
  await nextTurn();
  const lengths = sent.map((message) => (Array.isArray(JSON.parse(message.body)) ? (JSON.parse(message.body) as unknown[]).length : 1));
  assert.deepEqual(lengths, [2, 1, 3, 1], 'the huge event alone, then as many as fit');
  assert.equal(sent[1]!.routingKey, 'succeeded.big');
});

test('a send that throws rejects the events of its message only', async () => {
  const batches = new EventBatches((routingKey) => {
    if (routingKey.endsWith('.broken')) throw new Error('channel closed');
    return Promise.resolve(1);
  });
  const broken = batches.add('succeeded', 'broken', '{}');
  const fine = batches.add('succeeded', 'fine', '{}');
  await assert.rejects(broken, /channel closed/);
  assert.equal(await fine, 1);
});

test('jsonArray gives the bodies as one JSON array', () => {
  for (const bodies of [['{"a":1}', '2'], ['"x"', '{"b":[1,2]}', 'null']]) {
    const expected = `[${bodies.join(',')}]`;
    assert.equal(jsonArray([...bodies]), expected);
    assert.deepEqual(JSON.parse(jsonArray([...bodies])), JSON.parse(expected));
  }
});
