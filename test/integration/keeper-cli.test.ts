/**
 * `warren keeper` as a child process against an in-process Warren (any AMQP 0-9-1 broker will do) with
 * a SQLite store: tasks submitted and long-polled over its HTTP gateway, a dead task retried over HTTP,
 * logins checked against the broker's users (401, 403), /metrics with exact counts (it is the only
 * keeper), a clean exit on SIGTERM and SIGINT, and bad options refused.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { GUEST_USER } from '../../src/config/config.js';
import type { TaskView } from '../../src/http/task-view.js';
import { KEEPER_QUEUE, createWorker, type Worker } from '../../src/tasks/index.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { basicAuth, spawnKeeper, spawnKeeperCommand, type KeeperProcess } from '../helpers/keeper-process.js';
import { parseSamples, sampleValue } from '../helpers/prometheus-text.js';
import { promtoolCheckMetrics, skip as promtoolSkip } from '../helpers/promtool.js';

const skipExternal = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node and its users' : false, timeout: 60_000 };
const ALL = { configure: '.*', write: '.*', read: '.*' };
const BOB = basicAuth('bob', 'builder');

let broker: TestBroker;
let worker: Worker;
let keeper: KeeperProcess;
let directory: string;
let healed = false;

before(async () => {
  if (skipExternal.skip !== false) return;
  directory = await mkdtemp(join(tmpdir(), 'warren-keeper-cli-'));
  broker = await startTestBroker({
    users: [
      GUEST_USER,
      { username: 'bob', password: 'builder', tags: [], permissions: { '/': ALL }, loopbackOnly: false },
      { username: 'outsider', password: 'pw', tags: [], permissions: {}, loopbackOnly: false },
    ],
  });
  worker = createWorker({ url: broker.url, concurrency: 4, shutdownTimeoutMs: 1000 });
  worker.handle<number, number>('kc.square', (n) => n * n);
  worker.handle('kc.heal', () => {
    if (!healed) throw new Error('not yet');
    return 'healed';
  });
  await worker.start();
  keeper = await spawnKeeper(['--amqp', broker.url, '--store', `sqlite:${join(directory, 'tasks.sqlite')}`]);
});

after(async () => {
  if (skipExternal.skip !== false) return;
  keeper.child.kill('SIGKILL');
  await worker.close();
  await broker.close();
  await rm(directory, { recursive: true, force: true });
});

/** Consumers of the keeper queue, asked of the broker with plain amqplib. */
async function keeperQueueConsumers(): Promise<number> {
  const connection = await amqplib.connect(broker.url);
  try {
    return (await (await connection.createChannel()).checkQueue(KEEPER_QUEUE)).consumerCount;
  } finally {
    await connection.close();
  }
}

async function submit(name: string, body: object, headers = BOB): Promise<Response> {
  return fetch(`${keeper.base}/api/tasks/${name}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function finished(location: string): Promise<TaskView> {
  const response = await fetch(`${keeper.base}${location}?wait=10`, { headers: BOB });
  assert.equal(response.status, 200);
  return (await response.json()) as TaskView;
}

test('a task submitted over the keeper\'s HTTP gateway runs, and its long poll answers with the result', skipExternal, async () => {
  const response = await submit('kc.square', { payload: 12 });
  assert.equal(response.status, 202);
  const location = response.headers.get('location') ?? '';
  const task = await finished(location);
  assert.equal(task.state, 'succeeded');
  assert.equal(task.result, 144);
});

test('a dead task is retried over HTTP and then succeeds', skipExternal, async () => {
  const response = await submit('kc.heal', { options: { attempts: 1 } });
  const { id } = (await response.json()) as { id: string };
  assert.equal((await finished(`/api/tasks/${id}`)).state, 'dead');
  healed = true;
  const retried = await fetch(`${keeper.base}/api/tasks/${id}/retry`, { method: 'POST', headers: BOB });
  assert.equal(retried.status, 202);
  let task = await finished(`/api/tasks/${id}`);
  for (let poll = 0; poll < 20 && task.state !== 'succeeded'; poll++) task = await finished(`/api/tasks/${id}`);
  assert.deepEqual([task.state, task.run, task.result], ['succeeded', 2, 'healed']);
});

test('logins are the broker\'s: 401 without or with wrong credentials, 403 without vhost access', skipExternal, async () => {
  const noAuth = await fetch(`${keeper.base}/api/tasks`);
  assert.equal(noAuth.status, 401);
  assert.equal(noAuth.headers.get('www-authenticate'), 'Basic realm="Warren"');
  assert.equal((await fetch(`${keeper.base}/api/tasks`, { headers: basicAuth('bob', 'wrong') })).status, 401);
  assert.equal((await fetch(`${keeper.base}/api/tasks`, { headers: basicAuth('guest', '') })).status, 401);
  assert.equal((await fetch(`${keeper.base}/api/tasks`, { headers: basicAuth('outsider', 'pw') })).status, 403);
  assert.equal((await fetch(`${keeper.base}/api/tasks`, { headers: BOB })).status, 200);
  assert.equal((await fetch(`${keeper.base}/api/tasks/stats`, { headers: basicAuth('guest', 'guest') })).status, 200);
});

test('/metrics of the only keeper counts exactly what finished, and passes promtool', { ...skipExternal, skip: skipExternal.skip || promtoolSkip }, async () => {
  const response = await fetch(`${keeper.base}/metrics`);
  assert.equal(response.status, 200);
  const text = await response.text();
  const samples = parseSamples(text);
  assert.equal(sampleValue(samples, 'warren_task_finished_total', { task: 'kc.square', state: 'succeeded' }), 1);
  assert.equal(sampleValue(samples, 'warren_task_finished_total', { task: 'kc.heal', state: 'dead' }), 1);
  assert.equal(sampleValue(samples, 'warren_task_finished_total', { task: 'kc.heal', state: 'succeeded' }), 1);
  assert.equal(sampleValue(samples, 'warren_task_response_seconds_count', { task: 'kc.heal' }), 2);
  const checked = promtoolCheckMetrics(text);
  assert.equal(checked.status, 0, checked.output);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} stops a keeper gracefully: exit 0, its consumers gone`, skipExternal, async () => {
    const second = await spawnKeeper(['--amqp', broker.url, '--store', `sqlite:${join(directory, `${signal}.sqlite`)}`]);
    assert.equal(await keeperQueueConsumers(), 2, 'two keepers compete for the events');
    second.child.kill(signal);
    assert.equal(await second.exited, 0, second.output());
    assert.match(second.output(), /warren keeper stopped/);
    assert.equal(await keeperQueueConsumers(), 1);
  });
}

test('bad options are refused with a message and a non-zero exit', skipExternal, async () => {
  const badStore = spawnKeeperCommand(['--amqp', broker.url, '--store', 'mysql://somewhere/tasks']);
  assert.notEqual(await badStore.exited, 0);
  assert.match(badStore.output(), /--store must be postgres:\/\/\.\.\. or sqlite:PATH/);
  const noAmqp = spawnKeeperCommand(['--store', 'sqlite::memory:']);
  assert.notEqual(await noAmqp.exited, 0);
  assert.match(noAmqp.output(), /required option '--amqp <url>' not specified/);
  const notAmqp = spawnKeeperCommand(['--amqp', 'http://127.0.0.1:5672', '--store', 'sqlite::memory:']);
  assert.notEqual(await notAmqp.exited, 0);
  assert.match(notAmqp.output(), /must be an amqp:\/\/ or amqps:\/\/ URL/);
  const unreachable = spawnKeeperCommand(['--amqp', 'amqp://guest:guest@127.0.0.1:1', '--store', 'sqlite::memory:', '--http-port', '0']);
  assert.equal(await unreachable.exited, 1);
  assert.match(unreachable.output(), /warren keeper could not start: .*ECONNREFUSED/);
});
