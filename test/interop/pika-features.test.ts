/**
 * Queue features through pika, the Python client (Debian's /usr/bin/python3 with python3-pika):
 * dead-lettering on reject with the x-death header as pika decodes it, per-message TTL expiry to a
 * dead-letter exchange, a max-length drop-head queue, reject-publish nacks under confirms and the
 * 406 for an invalid expiration. In CI a missing python3 or pika fails the suite; elsewhere it is skipped.
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

describe('pika: dead-lettering, TTL and length limits', { concurrency: true }, () => {
  for (const scenario of ['dlx_reject', 'ttl_dlx', 'max_length_drop_head', 'reject_publish_nack', 'invalid_expiration']) {
    test(scenario, { skip, timeout: 60_000 }, async () => {
      assert.equal(unavailable, undefined, unavailable);
      const result = await runPython('queue_features.py', [broker.host, String(broker.port), scenario], 20_000);
      assertSucceeded(result);
      assert.match(result.stdout, new RegExp(`^OK ${scenario}$`, 'm'));
    });
  }
});
