/**
 * pika against the queue and consumer features: a priority queue consumed by pika, an RPC round trip
 * over direct reply-to driven by pika (its documented example, plus the 406s around it), a
 * single-active-consumer queue failing over between pika channels, and an alternate exchange catching a
 * mandatory publish. In CI a missing python3 or pika fails the suite; elsewhere it is skipped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { assertSucceeded, runPython, skip, unavailable } from '../helpers/python.js';

let broker: TestBroker;

before(async () => {
  if (skip !== false) return;
  broker = await startTestBroker();
});

after(async () => {
  await broker?.close();
});

describe('pika with priorities, direct reply-to, single active consumer and alternate exchanges', { concurrency: true }, () => {
  for (const scenario of ['priority_queue', 'direct_reply_to', 'single_active_consumer', 'alternate_exchange']) {
    test(scenario, { skip, timeout: 60_000 }, async () => {
      assert.equal(unavailable, undefined, unavailable);
      const result = await runPython('features_2.py', [broker.host, String(broker.port), scenario]);
      assertSucceeded(result);
      assert.match(result.stdout, new RegExp(`^OK ${scenario}$`, 'm'));
    });
  }
});
