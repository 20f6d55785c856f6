/**
 * A task submitted with a user_id property (its submitter's login) is retried and dead-lettered by a
 * worker logged in as another user: the worker's copies drop user_id, which the broker would refuse.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { startWarren } from '../../src/main.js';
import { deadLetterQueueName, taskQueueName } from '../../src/tasks/protocol.js';
import { declareEventTopology, declareTaskTopology } from '../../src/tasks/topology.js';
import { createWorker } from '../../src/tasks/worker.js';
import { waitFor } from '../helpers/amqp.js';

const everything = { configure: '.*', write: '.*', read: '.*' };
const user = (username: string): { username: string; password: string; tags: string[]; permissions: Record<string, typeof everything>; loopbackOnly: boolean } =>
  ({ username, password: `${username}-secret`, tags: [], permissions: { '/': everything }, loopbackOnly: false });

test('a worker logged in as another user retries and dead-letters a task that carries user_id', { skip: process.env['WARREN_TEST_URL'] ? 'configures its own users' : false }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-user-id-'));
  const node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', users: [user('alice'), user('bob')], tasks: { keeperEnabled: false } });
  const url = (name: string): string => `amqp://${name}:${name}-secret@127.0.0.1:${node.amqpPort}`;
  const alice = new AMQPClient(url('alice'));
  const worker = createWorker({ url: url('bob'), concurrency: 1 });
  try {
    await alice.connect();
    const channel = await alice.channel();
    await declareEventTopology(channel);
    await declareTaskTopology(channel, 'uid');
    await channel.basicPublish('', taskQueueName('uid'), '{}', {
      userId: 'alice', deliveryMode: 2, contentType: 'application/json',
      headers: { 'x-task-id': 't1', 'x-task-name': 'uid', 'x-task-attempt': 1, 'x-task-max-attempts': 2, 'x-task-backoff': 'fixed', 'x-task-backoff-delay-ms': 10 },
    });
    let runs = 0;
    const errors: Error[] = [];
    worker.handle('uid', () => {
      runs++;
      throw new Error('boom');
    });
    worker.on('error', (error) => errors.push(error));
    await worker.start();
    await waitFor(async () => (await channel.queueDeclare(deadLetterQueueName('uid'), { passive: true })).messageCount === 1, 5000, 'the task to be dead-lettered');
    assert.equal(runs, 2, 'both attempts ran: the retry copy was accepted');
    assert.deepEqual(errors, [], 'the worker kept its channels');
  } finally {
    await worker.close();
    await alice.close().catch(() => undefined);
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
