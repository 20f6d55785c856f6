/**
 * The webhook receiver of docs/webhooks.md (docs/examples/webhook-receiver.ts) runs against an
 * in-process Warren with its result keeper: the task's result arrives as a verified webhook, and the
 * receiver refuses a request whose signature does not match.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runWebhookExample, startReceiver, type TaskWebhook } from '../../docs/examples/webhook-receiver.js';
import { signWebhook } from '../../src/tasks/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

const skip = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process keeper' : false, timeout: 20_000 };
let broker: TestBroker;
before(async () => {
  if (skip.skip === false) broker = await startTestBroker({ tasks: { keeperEnabled: true } });
});
after(async () => {
  await broker?.close();
});

test('the example gets the resize result as a signed webhook', skip, async () => {
  const printed: string[] = [];
  const webhook = await runWebhookExample(broker.url, (line) => printed.push(line));
  assert.equal(webhook.type, 'task.succeeded');
  assert.deepEqual(webhook.data.result, { width: 640, height: 480 });
  assert.deepEqual(printed, ['task.succeeded for our task: {"width":640,"height":480}']);
});

test('the example receiver answers 400 to a forged request and 204 to a signed one, once per webhook-id', skip, async () => {
  const taken: TaskWebhook[] = [];
  const receiver = await startReceiver((webhook) => taken.push(webhook));
  const secret = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
  receiver.setSecret(secret);
  try {
    const body = JSON.stringify({ type: 'task.succeeded', timestamp: new Date().toISOString(), data: { id: 't1', name: 'x', state: 'succeeded', result: 1 } });
    const signed = signWebhook(secret, 'msg_1', Math.floor(Date.now() / 1000), body);
    const post = (headers: Record<string, string>, text: string): Promise<Response> =>
      fetch(receiver.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
    assert.equal((await post(signed, body.replace('"result":1', '"result":2'))).status, 400);
    assert.equal((await post({}, body)).status, 400);
    assert.equal((await post(signed, body)).status, 204);
    assert.equal((await post(signed, body)).status, 204);
    assert.equal(taken.length, 1);
  } finally {
    await receiver.close();
  }
});
