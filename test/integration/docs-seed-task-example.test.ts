/**
 * The seed article's asyncio example rewritten as Warren tasks (docs/async-tasks.md,
 * docs/examples/seed-async-task.ts) runs against an in-process Warren: it returns and prints
 * REMOTE_SERVICE_RESPONSE, both steps really ran as tasks (the node's result keeper recorded them),
 * and the file run as a script prints the same line.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runSeedExample } from '../../docs/examples/seed-async-task.js';
import { waitFor } from '../helpers/amqp.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { connectTasks } from '../../src/tasks/index.js';
import { runDocsExample } from '../helpers/docs-example.js';

let broker: TestBroker;
before(async () => {
  broker = await startTestBroker({ tasks: { keeperEnabled: true } });
});
after(async () => {
  await broker.close();
});

test('the example returns and prints REMOTE_SERVICE_RESPONSE, each step a recorded task', async () => {
  const printed: string[] = [];
  assert.equal(await runSeedExample(broker.url, (line) => printed.push(line)), 'REMOTE_SERVICE_RESPONSE');
  assert.deepEqual(printed, ['REMOTE_SERVICE_RESPONSE']);
  const tasks = connectTasks({ url: broker.url });
  try {
    const finished = async (name: string): Promise<boolean> => (await tasks.list({ name }))[0]?.state === 'succeeded';
    await waitFor(async () => (await finished('call-remote-service')) && (await finished('process-response')), 5000, 'both tasks recorded');
    const [call] = await tasks.list({ name: 'call-remote-service' });
    const [processing] = await tasks.list({ name: 'process-response' });
    assert.deepEqual([call?.state, call?.payload, call?.result], ['succeeded', null, 'remote_service_response']);
    assert.deepEqual([processing?.state, processing?.payload, processing?.result], ['succeeded', 'remote_service_response', 'REMOTE_SERVICE_RESPONSE']);
  } finally {
    await tasks.close();
  }
});

test('run as a script, the example prints REMOTE_SERVICE_RESPONSE and exits', { timeout: 20_000 }, async () => {
  const { code, stdout, stderr } = await runDocsExample('seed-async-task.ts', [broker.url]);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, 'REMOTE_SERVICE_RESPONSE\n');
});
