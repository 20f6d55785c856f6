/**
 * The task layer's AMQP connections turn the Nagle algorithm off (sendWithoutDelay in
 * src/tasks/amqp-connection.ts): amqp-client leaves it on, and then a small write (a keeper's last acks
 * of a burst, a worker's ack, a lone submit) can wait up to 40 ms on its socket for the broker's delayed
 * TCP acknowledgement. Each socket the client, the worker and the keeper open to the broker gets
 * TCP_NODELAY once connected; a task then goes through all three.
 */
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { test } from 'node:test';
import { startTasksBroker, uniqueTaskName } from '../helpers/tasks.js';
import { connectTasks } from '../../src/tasks/client.js';
import { startKeeper } from '../../src/tasks/keeper.js';
import { SqliteResultStore } from '../../src/tasks/store/sqlite-store.js';
import { createWorker } from '../../src/tasks/worker.js';

test('the client, the worker and the keeper each connect with the Nagle algorithm off, and a task goes through them', async (t) => {
  const broker = await startTasksBroker(t);
  const setNoDelay = t.mock.method(Socket.prototype, 'setNoDelay');
  /** Sockets to the broker (not the broker's own ends of them) that were given TCP_NODELAY. */
  const socketsWithoutDelay = (): number =>
    new Set(setNoDelay.mock.calls.filter((call) => call.arguments[0] === true && (call.this as Socket).remotePort === broker.port).map((call) => call.this)).size;

  const store = new SqliteResultStore(':memory:');
  const keeper = await startKeeper({ url: broker.url, store });
  const worker = createWorker({ url: broker.url, concurrency: 1 });
  const client = connectTasks({ url: broker.url });
  try {
    assert.equal(socketsWithoutDelay(), 1, 'the keeper\'s connection');
    const name = uniqueTaskName('nodelay');
    worker.handle<{ n: number }>(name, (payload) => payload.n * 2);
    await worker.start();
    assert.equal(socketsWithoutDelay(), 2, 'and the worker\'s');
    const handle = await client.submit(name, { n: 21 });
    assert.equal(socketsWithoutDelay(), 3, 'and the client\'s');
    assert.equal(await handle.result({ timeoutMs: 10_000 }), 42);
  } finally {
    // Before the broker stops (t.after): a worker whose broker goes away first fails loudly.
    await client.close();
    await worker.close();
    await keeper.close();
    await store.close();
  }
});
