/**
 * The retry-with-backoff example of docs/retry-with-backoff.md runs as written: a job that fails twice
 * is retried through TTL wait queues, and through a delayed message exchange, with the documented
 * backoff between attempts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { backoffMs, retryWithDelayedExchange, retryWithWaitQueues, type Attempt } from '../../docs/examples/retry-with-backoff.js';
import { uniqueName } from '../helpers/amqp.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let broker: TestBroker;
before(async () => {
  broker = await startTestBroker();
});
after(async () => {
  await broker.close();
});

/** Each retry waited at least its backoff (timers never fire early; a few ms of clock granularity allowed). */
function assertBackoff(attempts: readonly Attempt[]): void {
  assert.deepEqual(attempts.map((a) => a.attempt), [1, 2, 3]);
  for (let retry = 1; retry < attempts.length; retry++) {
    const waited = (attempts[retry] as Attempt).at - (attempts[retry - 1] as Attempt).at;
    assert.ok(waited >= backoffMs(retry) - 5, `retry ${retry} came after ${waited} ms, backoff is ${backoffMs(retry)} ms`);
    assert.ok(waited < backoffMs(retry) + 1000, `retry ${retry} came after ${waited} ms, far beyond its backoff`);
  }
}

test('TTL wait queues dead-letter a failed job back to its queue after each backoff', async () => {
  assertBackoff(await retryWithWaitQueues(broker.url, uniqueName('retry-ttl')));
});

test('a delayed message exchange redelivers a failed job after each backoff', { skip: process.env['WARREN_TEST_URL'] ? 'needs the delayed message exchange (built into Warren)' : false }, async () => {
  assertBackoff(await retryWithDelayedExchange(broker.url, uniqueName('retry-delayed')));
});
