/**
 * Direct reply-to (the amq.rabbitmq.reply-to pseudo-queue) as RabbitMQ 3.10 implements it: a channel
 * consumes from amq.rabbitmq.reply-to with no-ack, publishes requests with reply_to set to it, the
 * responder sees reply_to rewritten to "amq.rabbitmq.reply-to.<key>" and publishes its reply to the
 * default exchange with that routing key, which delivers it straight to the requester's consumer. Also
 * the 406 texts for misuse, queue.declare of the pseudo-queue, and replies to a requester that is gone.
 * Checked against RabbitMQ 3.10.8 with WARREN_TEST_URL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Channel, ConfirmChannel, ConsumeMessage, Message } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  collect,
  exclusiveQueue,
  expectChannelClose,
  fault,
  isChannelOpen,
  methods,
  openChannel,
  openClient,
  replyCodes,
  waitFor,
} from '../helpers/amqp.js';
import { assertExactClose, settle } from '../helpers/consumers.js';

const REPLY_TO = 'amq.rabbitmq.reply-to';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** A responder on its own connection: consumes `queue` and records every request it sees. */
interface Responder {
  queue: string;
  requests: ConsumeMessage[];
  /** A confirm channel on the responder's connection whose basic.returns are recorded. */
  pub: ConfirmChannel;
  returned: Message[];
}

/**
 * Starts a responder; when `answer` is true it replies "reply:<body>" to each request's reply_to,
 * with the mandatory flag when `mandatory` is true.
 */
async function startResponder(t: TestContext, options: { answer: boolean; mandatory?: boolean }): Promise<Responder> {
  const { client, ch } = await openChannel(t, broker.url);
  const pub = await client.confirmChannel();
  const returned: Message[] = [];
  pub.on('return', (message: Message) => returned.push(message));
  const queue = await exclusiveQueue(ch);
  const requests: ConsumeMessage[] = [];
  await ch.consume(
    queue,
    (message) => {
      if (message === null) return;
      requests.push(message);
      const replyTo = message.properties.replyTo as string | undefined;
      if (options.answer && replyTo !== undefined) {
        const reply: { correlationId?: string } = {};
        if (typeof message.properties.correlationId === 'string') reply.correlationId = message.properties.correlationId;
        pub.publish('', replyTo, Buffer.from(`reply:${message.content.toString()}`), { ...reply, mandatory: options.mandatory ?? false });
      }
    },
    { noAck: true },
  );
  return { queue, requests, pub, returned };
}

/** Sends a request on `ch` with reply_to amq.rabbitmq.reply-to. */
function request(ch: Channel, queue: string, body: string, correlationId?: string): void {
  ch.sendToQueue(queue, Buffer.from(body), correlationId === undefined ? { replyTo: REPLY_TO } : { replyTo: REPLY_TO, correlationId });
}

/** The reply_to the responder saw on its `index`-th request. */
function seenReplyTo(responder: Responder, index: number): string {
  const replyTo = responder.requests[index]?.properties.replyTo as unknown;
  assert.ok(typeof replyTo === 'string', `request ${index} carries a reply_to`);
  return replyTo;
}

describe('direct reply-to round trips', () => {
  test('the responder sees reply_to rewritten; its reply reaches the requester on the reply consumer', async (t) => {
    const responder = await startResponder(t, { answer: true });
    const { ch } = await openChannel(t, broker.url);
    const replies = await collect(ch, REPLY_TO, { noAck: true });
    assert.match(replies.consumerTag, /^amq\.ctag-/);
    request(ch, responder.queue, 'ping', 'corr-1');
    const [reply] = await replies.waitForCount(1);
    assert.ok(reply);
    const replyTo = seenReplyTo(responder, 0);
    assert.ok(replyTo.startsWith(`${REPLY_TO}.`), `rewritten reply_to ${replyTo}`);
    assert.ok(replyTo.length > REPLY_TO.length + 1, `rewritten reply_to ${replyTo} has a key`);
    assert.equal(reply.content.toString(), 'reply:ping');
    assert.equal(reply.properties.correlationId, 'corr-1');
    assert.equal(reply.properties.replyTo, undefined);
    assert.deepEqual(
      {
        consumerTag: reply.fields.consumerTag,
        exchange: reply.fields.exchange,
        routingKey: reply.fields.routingKey,
        redelivered: reply.fields.redelivered,
      },
      { consumerTag: replies.consumerTag, exchange: '', routingKey: replyTo, redelivered: false },
    );
    await responder.pub.waitForConfirms();
    assert.deepEqual(responder.returned, []);
  });

  test('a mandatory reply is delivered and also returned 312 NO_ROUTE', async (t) => {
    // RabbitMQ delivers a direct reply while routing it, so routing finds no queue: the reply reaches
    // the requester, counts as unroutable, and a mandatory one comes back in a basic.return too
    // (rabbitmq/rabbitmq-server#6124, observed on 3.10.8). Clients written for RabbitMQ expect that.
    const responder = await startResponder(t, { answer: true, mandatory: true });
    const { ch } = await openChannel(t, broker.url);
    const replies = await collect(ch, REPLY_TO, { noAck: true });
    request(ch, responder.queue, 'ping');
    await replies.waitForCount(1);
    await responder.pub.waitForConfirms();
    const replyTo = seenReplyTo(responder, 0);
    assert.deepEqual(
      responder.returned.map((message) => {
        const fields = message.fields as unknown as { replyCode: number; replyText: string; exchange: string; routingKey: string };
        return [message.content.toString(), fields.replyCode, fields.replyText, fields.exchange, fields.routingKey];
      }),
      [['reply:ping', 312, 'NO_ROUTE', '', replyTo]],
    );
    assert.deepEqual(replies.messages.map((message) => message.content.toString()), ['reply:ping']);
  });

  test('many requests are answered in order; the reply_to key is the same for one channel', async (t) => {
    const responder = await startResponder(t, { answer: true });
    const { ch } = await openChannel(t, broker.url);
    const replies = await collect(ch, REPLY_TO, { noAck: true });
    for (let i = 0; i < 10; i += 1) request(ch, responder.queue, `r${i}`, `c${i}`);
    await replies.waitForCount(10);
    assert.deepEqual(
      replies.messages.map((message) => [message.content.toString(), message.properties.correlationId]),
      Array.from({ length: 10 }, (_, i) => [`reply:r${i}`, `c${i}`]),
    );
    const keys = new Set(responder.requests.map((message) => message.properties.replyTo as string));
    assert.equal(keys.size, 1, `one reply_to for the channel, got ${[...keys].join(', ')}`);
  });

  test('two requesting channels get different reply_to keys and only their own replies', async (t) => {
    const responder = await startResponder(t, { answer: true });
    const { client, ch: first } = await openChannel(t, broker.url);
    const second = await client.channel();
    const firstReplies = await collect(first, REPLY_TO, { noAck: true });
    const secondReplies = await collect(second, REPLY_TO, { noAck: true });
    request(first, responder.queue, 'from-first');
    await firstReplies.waitForCount(1);
    request(second, responder.queue, 'from-second');
    await secondReplies.waitForCount(1);
    await settle();
    assert.deepEqual(firstReplies.messages.map((message) => message.content.toString()), ['reply:from-first']);
    assert.deepEqual(secondReplies.messages.map((message) => message.content.toString()), ['reply:from-second']);
    assert.notEqual(seenReplyTo(responder, 0), seenReplyTo(responder, 1));
  });

  test('a reply_to other than amq.rabbitmq.reply-to is passed through unchanged', async (t) => {
    const responder = await startResponder(t, { answer: false });
    const { ch } = await openChannel(t, broker.url);
    await collect(ch, REPLY_TO, { noAck: true });
    ch.sendToQueue(responder.queue, Buffer.from('x'), { replyTo: 'my-own-queue' });
    await waitFor(() => responder.requests.length === 1, 3000, 'the request');
    assert.equal(seenReplyTo(responder, 0), 'my-own-queue');
  });
});

describe('direct reply-to errors', () => {
  test('consuming amq.rabbitmq.reply-to with no-ack=false is 406 (basic.consume)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const info = await expectChannelClose(
      ch,
      () => ch.consume(REPLY_TO, () => {}, { noAck: false }),
      fault(replyCodes.preconditionFailed, methods.basicConsume),
    );
    assertExactClose(info, {
      replyCode: 406,
      replyText: 'PRECONDITION_FAILED - reply consumer cannot acknowledge',
      classId: 60,
      methodId: 20,
    });
  });

  test('a second reply consumer on the same channel is 406 (basic.consume)', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    await ch.consume(REPLY_TO, () => {}, { noAck: true });
    // Another channel may have its own reply consumer.
    const other = await client.channel();
    await other.consume(REPLY_TO, () => {}, { noAck: true });
    const info = await expectChannelClose(
      ch,
      () => ch.consume(REPLY_TO, () => {}, { noAck: true }),
      fault(replyCodes.preconditionFailed, methods.basicConsume),
    );
    assertExactClose(info, {
      replyCode: 406,
      replyText: 'PRECONDITION_FAILED - reply consumer already set',
      classId: 60,
      methodId: 20,
    });
    assert.ok(isChannelOpen(other));
  });

  for (const [label, prepare] of [
    ['without any reply consumer', async () => {}],
    [
      'when only another channel has a reply consumer',
      async (_ch: Channel, other: Channel) => {
        await other.consume(REPLY_TO, () => {}, { noAck: true });
      },
    ],
    [
      'after the reply consumer was cancelled',
      async (ch: Channel) => {
        const { consumerTag } = await ch.consume(REPLY_TO, () => {}, { noAck: true });
        await ch.cancel(consumerTag);
      },
    ],
  ] as const) {
    test(`publishing with reply_to amq.rabbitmq.reply-to ${label} is 406 (basic.publish)`, async (t) => {
      const responder = await startResponder(t, { answer: false });
      const { client, ch } = await openChannel(t, broker.url);
      const other = await client.channel();
      await prepare(ch, other);
      const info = await expectChannelClose(
        ch,
        () => request(ch, responder.queue, 'orphan'),
        fault(replyCodes.preconditionFailed, methods.basicPublish),
      );
      assertExactClose(info, {
        replyCode: 406,
        replyText: 'PRECONDITION_FAILED - fast reply consumer does not exist',
        classId: 60,
        methodId: 40,
      });
      await settle();
      assert.deepEqual(responder.requests, [], 'the request is not delivered');
    });
  }

  test('basic.get on amq.rabbitmq.reply-to is 404 NOT_FOUND (basic.get)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const info = await expectChannelClose(ch, () => ch.get(REPLY_TO), fault(replyCodes.notFound, methods.basicGet));
    assertExactClose(info, {
      replyCode: 404,
      replyText: `NOT_FOUND - no queue '${REPLY_TO}' in vhost '/'`,
      classId: 60,
      methodId: 70,
    });
  });

  test('consuming from a rewritten reply_to name is 404 NOT_FOUND (basic.consume)', async (t) => {
    const responder = await startResponder(t, { answer: false });
    const { client, ch } = await openChannel(t, broker.url);
    await ch.consume(REPLY_TO, () => {}, { noAck: true });
    request(ch, responder.queue, 'x');
    await waitFor(() => responder.requests.length === 1, 3000, 'the request');
    const replyTo = seenReplyTo(responder, 0);
    const other = await client.channel();
    const info = await expectChannelClose(
      other,
      () => other.consume(replyTo, () => {}, { noAck: true }),
      fault(replyCodes.notFound, methods.basicConsume),
    );
    assertExactClose(info, {
      replyCode: 404,
      replyText: `NOT_FOUND - no queue '${replyTo}' in vhost '/'`,
      classId: 60,
      methodId: 20,
    });
  });
});

describe('the pseudo-queue in queue.declare', () => {
  test('declaring amq.rabbitmq.reply-to, passive or not, answers 0 messages and 1 consumer, even unconsumed', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    assert.deepEqual(await ch.checkQueue(REPLY_TO), { queue: REPLY_TO, messageCount: 0, consumerCount: 1 });
    assert.deepEqual(await ch.assertQueue(REPLY_TO), { queue: REPLY_TO, messageCount: 0, consumerCount: 1 });
    await ch.consume(REPLY_TO, () => {}, { noAck: true });
    assert.deepEqual(await ch.checkQueue(REPLY_TO), { queue: REPLY_TO, messageCount: 0, consumerCount: 1 });
  });

  test('a passive declare of a live rewritten reply_to succeeds; once its channel is closed it is 404', async (t) => {
    const responder = await startResponder(t, { answer: false });
    const { client, ch } = await openChannel(t, broker.url);
    const requester = await client.channel();
    await requester.consume(REPLY_TO, () => {}, { noAck: true });
    request(requester, responder.queue, 'x');
    await waitFor(() => responder.requests.length === 1, 3000, 'the request');
    const replyTo = seenReplyTo(responder, 0);
    assert.deepEqual(await ch.checkQueue(replyTo), { queue: replyTo, messageCount: 0, consumerCount: 1 });
    await requester.close();
    const info = await expectChannelClose(ch, () => ch.checkQueue(replyTo), fault(replyCodes.notFound, methods.queueDeclare));
    assertExactClose(info, {
      replyCode: 404,
      replyText: `NOT_FOUND - no queue '${replyTo}' in vhost '/'`,
      classId: 50,
      methodId: 10,
    });
  });
});

describe('replies that cannot be delivered', () => {
  test('a reply to a requester whose channel is gone is dropped; mandatory returns it 312 NO_ROUTE', async (t) => {
    const responder = await startResponder(t, { answer: false });
    const requesterClient = await openClient(t, broker.url);
    const requester = await requesterClient.channel();
    await requester.consume(REPLY_TO, () => {}, { noAck: true });
    request(requester, responder.queue, 'x');
    await waitFor(() => responder.requests.length === 1, 3000, 'the request');
    const replyTo = seenReplyTo(responder, 0);
    await requester.close();
    responder.pub.publish('', replyTo, Buffer.from('late, mandatory'), { mandatory: true });
    responder.pub.publish('', replyTo, Buffer.from('late'));
    await responder.pub.waitForConfirms();
    assert.deepEqual(
      responder.returned.map((message) => {
        const fields = message.fields as unknown as { replyCode: number; replyText: string; exchange: string; routingKey: string };
        return [message.content.toString(), fields.replyCode, fields.replyText, fields.exchange, fields.routingKey];
      }),
      [['late, mandatory', 312, 'NO_ROUTE', '', replyTo]],
    );
    assert.ok(isChannelOpen(responder.pub), 'replying to a gone requester is not an error');
  });

  test('a reply to a malformed reply-to name is unroutable, not an error', async (t) => {
    const responder = await startResponder(t, { answer: false });
    for (const routingKey of [`${REPLY_TO}.garbage`, REPLY_TO]) {
      responder.pub.publish('', routingKey, Buffer.from(routingKey), { mandatory: true });
    }
    await responder.pub.waitForConfirms();
    assert.deepEqual(
      responder.returned.map((message) => [message.content.toString(), (message.fields as unknown as { replyCode: number }).replyCode]),
      [
        [`${REPLY_TO}.garbage`, 312],
        [REPLY_TO, 312],
      ],
    );
    assert.ok(isChannelOpen(responder.pub));
  });
});
