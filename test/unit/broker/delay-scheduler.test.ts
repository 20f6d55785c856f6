import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import fc from 'fast-check';
import { encodeBasicProperties } from '../../../src/codec/index.js';
import { Message } from '../../../src/broker/message.js';
import { NO_FLOW_CONTROL } from '../../../src/broker/publisher-throttle.js';
import { ResourceAlarm } from '../../../src/broker/resource-alarm.js';
import { Vhost } from '../../../src/broker/vhost.js';

const delayedFanout = { durable: false, autoDelete: false, internal: false, arguments: { 'x-delayed-type': 'fanout' } };
const plainQueue = { durable: false, exclusiveOwner: null, autoDelete: false, arguments: {} };

function delayed(exchange: string, body: string, delayMs: number): Message {
  return new Message(exchange, '', encodeBasicProperties({ headers: { 'x-delay': delayMs } }), Buffer.from(body));
}

/** Takes every ready message body from a queue. */
function drain(vhost: Vhost, queue: string): string[] {
  const out: string[] = [];
  const source = vhost.queueFor(queue, 1);
  for (let entry = source.get(); entry !== undefined; entry = source.get()) {
    out.push(entry.message.body.toString());
    source.settle(entry);
  }
  return out;
}

test('held messages are released in due order (publish order on ties), none before it is due', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  try {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 20 }), (delays, stepMs) => {
        const alarms = new ResourceAlarm(Number.POSITIVE_INFINITY);
        const vhost = new Vhost('/', NO_FLOW_CONTROL, alarms);
        const exchange = vhost.declareExchange('x', 'x-delayed-message', delayedFanout, false);
        vhost.declareQueue('q', plainQueue, false, 1);
        vhost.bindQueue('q', 'x', '', {}, 1);
        const start = Date.now();
        delays.forEach((delayMs, index) => assert.ok(vhost.delayedMessages.hold(exchange, delayed('x', `${index}`, delayMs))));
        const expected = delays.map((delayMs, index) => ({ delayMs, index })).sort((a, b) => a.delayMs - b.delayMs || a.index - b.index);
        const released: string[] = [];
        for (let elapsed = 0; elapsed <= 50; elapsed += stepMs) {
          for (const body of drain(vhost, 'q')) {
            assert.ok((delays[Number(body)] ?? 0) <= Date.now() - start, `message ${body} released early`);
            released.push(body);
          }
          mock.timers.tick(stepMs);
        }
        released.push(...drain(vhost, 'q'));
        assert.deepEqual(released, expected.map(({ index }) => `${index}`));
        assert.equal(vhost.delayedMessages.size, 0);
        assert.equal(alarms.heldBytes, 0, 'released and settled: no bytes held any more');
      }),
      { numRuns: 50 },
    );
  } finally {
    mock.timers.reset();
  }
});

test('deleting one delayed exchange drops its messages and keeps the others in order', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  try {
    const vhost = new Vhost('/', NO_FLOW_CONTROL, new ResourceAlarm(Number.POSITIVE_INFINITY));
    const kept = vhost.declareExchange('kept', 'x-delayed-message', delayedFanout, false);
    const dropped = vhost.declareExchange('dropped', 'x-delayed-message', delayedFanout, false);
    vhost.declareQueue('q', plainQueue, false, 1);
    vhost.bindQueue('q', 'kept', '', {}, 1);
    vhost.bindQueue('q', 'dropped', '', {}, 1);
    for (let index = 0; index < 20; index++) {
      const exchange = index % 2 === 0 ? kept : dropped;
      vhost.delayedMessages.hold(exchange, delayed(exchange.name, `${exchange.name}-${index}`, 100 - index));
    }
    vhost.deleteExchange('dropped', false);
    assert.equal(vhost.delayedMessages.size, 10);
    mock.timers.tick(100);
    assert.deepEqual(drain(vhost, 'q'), [18, 16, 14, 12, 10, 8, 6, 4, 2, 0].map((index) => `kept-${index}`));
  } finally {
    mock.timers.reset();
  }
});

test('an x-delay that is absent, zero, negative or beyond 2^32-1 ms is not held; a plain exchange never holds', () => {
  const vhost = new Vhost('/', NO_FLOW_CONTROL, new ResourceAlarm(Number.POSITIVE_INFINITY));
  const exchange = vhost.declareExchange('x', 'x-delayed-message', delayedFanout, false);
  const none = new Message('x', '', encodeBasicProperties({}), Buffer.alloc(0));
  assert.equal(vhost.delayedMessages.hold(exchange, none), undefined);
  for (const delayMs of [0, -1, 4294967296]) assert.equal(vhost.delayedMessages.hold(exchange, delayed('x', '', delayMs)), undefined);
  assert.equal(vhost.delayedMessages.hold(vhost.exchange('amq.fanout'), delayed('amq.fanout', '', 10)), undefined);
  const held = vhost.delayedMessages.hold(exchange, delayed('x', '', 4294967295));
  assert.deepEqual(held, { persisted: false });
  vhost.deleteExchange('x', false);
  assert.equal(vhost.delayedMessages.size, 0);
});
