/**
 * The AMQP reply channel: a submitter names a queue of its own (reply_to) and a correlation_id; the
 * worker publishes the result there, and handle.result() still gets it (from the keeper). Also through
 * the HTTP gateway's options.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { connectTasks, createWorker, type TaskReply, type TasksClient, type Worker } from '../../src/tasks/index.js';
import { taskQueueName } from '../../src/tasks/protocol.js';
import { waitFor } from '../helpers/amqp.js';
import { collectingQueue } from '../helpers/tasks.js';

const skip = { skip: process.env['WARREN_TEST_URL'] ? 'runs its own Warren with its keeper' : false };
let node: WarrenNode;
let dataDir: string;
let url: string;
let client: TasksClient;
let worker: Worker;

before(async () => {
  if (skip.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-reply-to-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' });
  url = `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
  worker = createWorker({ url, concurrency: 2 });
  worker.handle<{ n: number }, number>('double', ({ n }) => n * 2);
  await worker.start();
  client = connectTasks({ url });
});

after(async () => {
  if (skip.skip !== false) return;
  await worker.close();
  await client.close();
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});


test('submit with replyTo and correlationId: the result goes to that queue, and result() still resolves', skip, async () => {
  const results = await collectingQueue(url);
  try {
    const handle = await client.submit('double', { n: 21 }, { replyTo: results.queue, correlationId: 'order-7' });
    assert.equal(await handle.result({ timeoutMs: 5000 }), 42, 'the handle gets the result from the keeper');
    await waitFor(() => results.received.length === 1, 3000, 'the reply in our queue');
    const [reply] = results.received;
    assert.equal(reply?.properties.correlationId, 'order-7');
    const body = JSON.parse(reply?.content.toString() ?? '{}') as TaskReply;
    assert.deepEqual([body.id, body.state, body.result], [handle.id, 'succeeded', 42]);
  } finally {
    await results.close();
  }
});

test('without a correlationId the reply carries the task id; bad values are refused before anything is sent', skip, async () => {
  const results = await collectingQueue(url);
  try {
    const handle = await client.submit('double', { n: 1 }, { replyTo: results.queue });
    await waitFor(() => results.received.length === 1, 3000, 'the reply in our queue');
    assert.equal(results.received[0]?.properties.correlationId, handle.id);
    await assert.rejects(client.submit('double', { n: 1 }, { replyTo: '' }), { name: 'TaskValidationError' });
    await assert.rejects(client.submit('double', { n: 1 }, { replyTo: results.queue, correlationId: 'x'.repeat(256) }), { name: 'TaskValidationError' });
  } finally {
    await results.close();
  }
});

test('the HTTP gateway takes replyTo and correlationId as options', skip, async () => {
  const results = await collectingQueue(url);
  try {
    const response = await fetch(`http://127.0.0.1:${node.httpPort}/api/tasks/double`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ payload: { n: 5 }, options: { replyTo: results.queue, correlationId: 'http-1' } }),
    });
    assert.equal(response.status, 202);
    await waitFor(() => results.received.length === 1, 3000, 'the reply in our queue');
    assert.equal(results.received[0]?.properties.correlationId, 'http-1');
    assert.equal((JSON.parse(results.received[0]?.content.toString() ?? '{}') as TaskReply).result, 10);
  } finally {
    await results.close();
  }
});

test('submit with reply: false sends no reply_to, so no reply; result() gets the result from the keeper', skip, async () => {
  // A name no worker takes: its task messages stay in the work queue, to be looked at.
  const idle = `reply-none-${Date.now()}`;
  await client.submit(idle, { n: 1 }, { reply: false }); // declares what the name takes
  await client.submit(idle, { n: 2 }, { reply: false }); // the common path: everything declared already
  await client.submit(idle, { n: 3 });
  // The HTTP gateway's callers poll for results: its submits ask for no reply either.
  const response = await fetch(`http://127.0.0.1:${node.httpPort}/api/tasks/${idle}`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ payload: { n: 4 } }),
  });
  assert.equal(response.status, 202);
  const connection = await amqplib.connect(url);
  try {
    const channel = await connection.createChannel();
    const replyTos: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      const message = await channel.get(taskQueueName(idle), { noAck: true });
      assert.ok(message !== false);
      replyTos.push(message.properties.replyTo);
    }
    assert.equal(replyTos[0], undefined);
    assert.equal(replyTos[1], undefined);
    assert.ok(typeof replyTos[2] === 'string' && replyTos[2] !== '', 'by default a submit asks for its reply');
    assert.equal(replyTos[3], undefined, 'the gateway asks for none');
  } finally {
    await connection.close();
  }

  const handle = await client.submit('double', { n: 4 }, { reply: false });
  assert.equal(await handle.result({ timeoutMs: 5000 }), 8, 'the handle gets the result from the keeper');
  const results = await collectingQueue(url);
  try {
    const own = await client.submit('double', { n: 5 }, { reply: false, replyTo: results.queue });
    await waitFor(() => results.received.length === 1, 3000, 'the reply in our queue: replyTo still gets its reply');
    assert.equal(results.received[0]?.properties.correlationId, own.id);
  } finally {
    await results.close();
  }
  await assert.rejects(client.submit('double', { n: 1 }, { reply: 'no' as unknown as boolean }), { name: 'TaskValidationError' });
});
