/**
 * What a submit answers when the broker refuses one of its two publishes (docs/task-protocol.md,
 * section 2): a task message refused fails the submit; a queued event refused while the task message is
 * taken fails nothing (the SDK logs a warning). The refusals come from policies on an in-process
 * Warren: max-length 0 with overflow reject-publish, so the broker nacks what would go into the queue.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import amqplib from 'amqplib';
import { startWarren } from '../../src/main.js';
import { connectTasks } from '../../src/tasks/client.js';
import { KEEPER_QUEUE, taskQueueName } from '../../src/tasks/protocol.js';
import type { Logger } from '../../src/util/logger.js';
import { uniqueTaskName } from '../helpers/tasks.js';

/** A Warren with its management API, the keeper off (its queue is declared by the client and left alone). */
async function warren(t: TestContext): Promise<{ url: string; putPolicy(name: string, queue: string): Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-submit-refused-'));
  const node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
  t.after(async () => {
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    url: `amqp://guest:guest@127.0.0.1:${node.amqpPort}`,
    async putPolicy(name, queue) {
      const response = await fetch(`http://127.0.0.1:${node.httpPort}/api/policies/%2F/${name}`, {
        method: 'PUT',
        headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ pattern: `^${queue.replaceAll('.', '\\.')}$`, 'apply-to': 'queues', definition: { 'max-length': 0, overflow: 'reject-publish' } }),
      });
      assert.equal(response.status, 201, await response.text());
    },
  };
}

/** A logger that keeps its warnings. */
function warningsLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger = {
    error: () => undefined,
    warn: (_context, message) => void warnings.push(message),
    info: () => undefined,
    debug: () => undefined,
    child: () => logger,
  };
  return { logger, warnings };
}

test('a task message the broker refuses fails the submit', async (t) => {
  const broker = await warren(t);
  const name = uniqueTaskName('refused');
  const client = connectTasks({ url: broker.url });
  t.after(() => client.close());
  await client.submit(name, 1, { reply: false }); // declares the queues; this one is taken
  await broker.putPolicy('no-tasks', taskQueueName(name));
  await assert.rejects(client.submit(name, 2, { reply: false }));
});

test('a queued event the broker refuses while it takes the task message fails nothing, and is logged', async (t) => {
  const broker = await warren(t);
  const name = uniqueTaskName('event-refused');
  const { logger, warnings } = warningsLogger();
  const client = connectTasks({ url: broker.url, logger });
  t.after(() => client.close());
  await client.submit(name, 1, { reply: false });
  await broker.putPolicy('no-events', KEEPER_QUEUE);
  const handle = await client.submit(name, 2, { reply: false });
  assert.equal(handle.name, name);
  assert.deepEqual(warnings, ['the broker did not take a submitted task\'s queued event']);
  const connection = await amqplib.connect(broker.url);
  try {
    const channel = await connection.createChannel();
    assert.equal((await channel.checkQueue(taskQueueName(name))).messageCount, 2, 'both task messages wait in the work queue');
    assert.equal((await channel.checkQueue(KEEPER_QUEUE)).messageCount, 1, 'only the first queued event reached the keeper queue');
  } finally {
    await connection.close();
  }
});
