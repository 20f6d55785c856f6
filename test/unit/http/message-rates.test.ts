/**
 * MessageRates: counters summed over vhosts, and rates as the change between two samples per second.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Broker } from '../../../src/broker/broker.js';
import { resolveConfig } from '../../../src/config/config.js';
import { MessageRates } from '../../../src/http/management/message-rates.js';

test('rates are the change between samples per second; deliver_get sums the four ways out', () => {
  const broker = new Broker(resolveConfig({ vhosts: ['/', 'other'] }));
  const rates = new MessageRates(broker);
  rates.sample(1_000);
  const root = broker.vhosts.get('/');
  const other = broker.vhosts.get('other');
  assert.ok(root !== undefined && other !== undefined);
  root.stats.publish += 30;
  other.stats.publish += 20;
  root.stats.deliver += 10;
  other.stats.getNoAck += 5;
  rates.sample(6_000);
  const stats = rates.messageStats();
  assert.equal(stats['publish'], 50);
  assert.deepEqual(stats['publish_details'], { rate: 10 });
  assert.equal(stats['deliver_get'], 15);
  assert.deepEqual(stats['deliver_get_details'], { rate: 3 });
  assert.deepEqual(stats['ack_details'], { rate: 0 });
});
