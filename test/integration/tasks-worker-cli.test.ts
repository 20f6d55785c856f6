/**
 * `warren worker <module>` as a child process against an in-process Warren: it runs the handlers a
 * module exports, stops cleanly on SIGTERM, and a worker killed with SIGKILL mid-task has its task
 * finished by a second worker.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { waitFor } from '../helpers/amqp.js';
import { TaskProbe } from '../helpers/task-probe.js';
import { attemptStarts } from '../helpers/tasks.js';

const MODULE = 'test/fixtures/tasks-worker-module.ts';
const timeouts = { timeout: 60_000 };

let broker: TestBroker;
const children: ChildProcess[] = [];

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await broker.close();
});

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Spawns `warren worker` from source; resolves once it logged "worker started" (or exited). */
async function spawnWorker(modulePath: string, env: Record<string, string> = {}, args: string[] = []): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', modulePath, '--url', broker.url, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor(() => output.includes('worker started') || child.exitCode !== null, 20_000, `worker to start:\n${output}`);
  return { child, output: () => output, exited };
}

test('warren worker runs the named and default-object exports of a module, and exits 0 on SIGTERM', timeouts, async () => {
  const echo = await TaskProbe.open(broker.url, 'echo');
  const shout = await TaskProbe.open(broker.url, 'shout');
  try {
    const worker = await spawnWorker(MODULE, {}, ['--concurrency', '2']);
    const started = JSON.parse(worker.output().split('\n').find((line) => line.includes('worker started')) ?? '{}') as { tasks: string[]; concurrency: number };
    assert.deepEqual(started.tasks.sort(), ['echo', 'shout', 'slow']);
    assert.equal(started.concurrency, 2);
    const echoed = await echo.submit({ hello: ['world'] });
    const shouted = await shout.submit('quiet please');
    assert.deepEqual((await echo.waitForReply(echoed)).result, { hello: ['world'] });
    assert.equal((await shout.waitForReply(shouted)).result, 'QUIET PLEASE');
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0);
    assert.match(worker.output(), /worker shutting down/);
    assert.equal((await echo.workQueue()).consumerCount, 0);
  } finally {
    await echo.close();
    await shout.close();
  }
});

test('a worker killed with SIGKILL mid-task has the task finished by a second worker', timeouts, async () => {
  const slow = await TaskProbe.open(broker.url, 'slow');
  try {
    const doomed = await spawnWorker(MODULE, { FIXTURE_SLOW_MS: '60000' });
    const id = await slow.submit(null, { maxAttempts: 1 });
    const firstStart = await slow.waitForEvent(id, 'started', 10_000);
    assert.match(firstStart.worker ?? '', new RegExp(`:${doomed.child.pid}:`));
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const rescuer = await spawnWorker(MODULE, { FIXTURE_SLOW_MS: '0' });
    const reply = await slow.waitForReply(id, 10_000);
    assert.equal(reply.state, 'succeeded');
    assert.deepEqual(reply.result, { pid: rescuer.child.pid });
    await slow.waitForEvent(id, 'succeeded');
    const starts = attemptStarts(slow.eventsOf(id));
    assert.equal(starts.length, 2, 'the first worker\'s started event, and the start the rescuer\'s outcome carries');
    assert.match(starts[1]?.worker ?? '', new RegExp(`:${rescuer.child.pid}:`));
    assert.equal(starts[1]?.attempt, 1, 'a redelivery after a crash is the same attempt, not a retry');
    rescuer.child.kill('SIGTERM');
    assert.equal(await rescuer.exited, 0);
  } finally {
    await slow.close();
  }
});

test('warren worker refuses a module that exports no handlers', timeouts, async () => {
  const worker = await spawnWorker('test/fixtures/tasks-worker-empty-module.ts');
  assert.notEqual(await worker.exited, 0);
  assert.match(worker.output(), /exports no task handlers/);
});
