/** The client's reply router: which replies it keeps for result() calls made later. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AMQPMessage } from '@cloudamqp/amqp-client';
import { silentLogger } from '../../../src/tasks/amqp-connection.js';
import { TASK_PROTOCOL_VERSION, TASK_REPLY_TYPE } from '../../../src/tasks/protocol.js';
import { KEPT_REPLIES_MAX, ReplyRouter } from '../../../src/tasks/reply-router.js';

/** A message as amqp-client hands it to the reply queue's consumer (only what the router reads). */
function replyMessage(correlationId: string, body: unknown, type?: string): AMQPMessage {
  const properties = type === undefined ? { correlationId } : { correlationId, type };
  return { properties, body: Buffer.from(JSON.stringify(body)) } as unknown as AMQPMessage;
}

function taskReply(id: string): unknown {
  return { protocol: TASK_PROTOCOL_VERSION, id, name: 'resize', attempt: 1, state: 'succeeded', result: id };
}

test('a worker reply nobody waits for is kept for a later result()', () => {
  const router = new ReplyRouter(silentLogger);
  router.deliver(replyMessage('t1', taskReply('t1'), TASK_REPLY_TYPE));
  assert.deepEqual(router.reply('t1'), taskReply('t1'));
  assert.equal(router.reply('t2'), undefined);
});

test('a keeper answer that comes after its request gave up takes no place among the kept replies', () => {
  const router = new ReplyRouter(silentLogger);
  for (let index = 0; index < KEPT_REPLIES_MAX; index++) router.deliver(replyMessage(`t${index}`, taskReply(`t${index}`), TASK_REPLY_TYPE));
  // A keeper reply carries no type; its request (correlation id r1) is no longer waited for.
  router.deliver(replyMessage('r1', { ok: true, record: { id: 't0' } }));
  assert.equal(router.reply('r1'), undefined);
  assert.deepEqual(router.reply('t0'), taskReply('t0'), 'the oldest task reply is still kept');
});
