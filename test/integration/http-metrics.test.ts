/**
 * GET /metrics on a real in-process node with its result keeper: after a workload with known outcomes
 * and known handler sleeps, the warren_task_* families count each final state right, the latency
 * histograms agree with the sleeps and with GET /api/tasks/stats, the text passes promtool, and the
 * endpoint needs no credentials (as RabbitMQ's Prometheus endpoint).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { NonRetryableError, connectTasks, createWorker, type TasksClient, type Worker } from '../../src/tasks/index.js';
import type { TaskNameStats } from '../../src/tasks/task-stats.js';
import { waitFor } from '../helpers/amqp.js';
import { histogramBuckets, parseSamples, sampleValue, type ParsedSample } from '../helpers/prometheus-text.js';
import { promtoolCheckMetrics, skip as promtoolSkip } from '../helpers/promtool.js';

const skipExternal = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : false, timeout: 60_000 };
const GUEST = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
const SLEEP_MS = 120;
const SLEEPY_TASKS = 6;

let node: WarrenNode;
let dataDir: string;
let worker: Worker;
let client: TasksClient;
let base: string;

before(async () => {
  if (skipExternal.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-http-metrics-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' });
  base = `http://127.0.0.1:${node.httpPort}`;
  const url = `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
  worker = createWorker({ url, concurrency: 8, shutdownTimeoutMs: 1000 });
  worker.handle('metrics.sleepy', async () => {
    await new Promise((resolve) => setTimeout(resolve, SLEEP_MS));
    return 'rested';
  });
  worker.handle('metrics.refuse', () => {
    throw new NonRetryableError('bad input');
  });
  worker.handle('metrics.broken', () => {
    throw new Error('always broken');
  });
  await worker.start();
  client = connectTasks({ url });
});

after(async () => {
  if (skipExternal.skip !== false) return;
  await client.close();
  await worker.close();
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function scrape(headers: Record<string, string> = {}): Promise<{ response: Response; text: string }> {
  const response = await fetch(`${base}/metrics`, { headers });
  return { response, text: await response.text() };
}

test('after a known workload /metrics counts every final state and the latencies match the handler sleeps', skipExternal, async () => {
  const handles = [
    ...Array.from({ length: SLEEPY_TASKS }, () => client.submit('metrics.sleepy', null)),
    client.submit('metrics.refuse', null, { attempts: 3 }),
    client.submit('metrics.refuse', null, { attempts: 3 }),
    client.submit('metrics.broken', null, { attempts: 1 }),
  ];
  for (const handle of await Promise.all(handles)) await handle.result({ timeoutMs: 10_000 }).catch(() => undefined);
  let samples: ParsedSample[] = [];
  await waitFor(async () => {
    samples = parseSamples((await scrape()).text);
    const finished = (task: string, state: string): number | undefined => sampleValue(samples, 'warren_task_finished_total', { task, state });
    return finished('metrics.sleepy', 'succeeded') === SLEEPY_TASKS && finished('metrics.refuse', 'failed') === 2 && finished('metrics.broken', 'dead') === 1;
  }, 10_000, 'the keeper to count the workload');

  const counts = (task: string): Record<string, number | undefined> => Object.fromEntries(['succeeded', 'failed', 'dead', 'cancelled']
    .map((state) => [state, sampleValue(samples, 'warren_task_finished_total', { task, state })]));
  assert.deepEqual(counts('metrics.sleepy'), { succeeded: SLEEPY_TASKS, failed: 0, dead: 0, cancelled: 0 });
  assert.deepEqual(counts('metrics.refuse'), { succeeded: 0, failed: 2, dead: 0, cancelled: 0 });
  assert.deepEqual(counts('metrics.broken'), { succeeded: 0, failed: 0, dead: 1, cancelled: 0 });

  const sleepy = { task: 'metrics.sleepy' };
  const processing = histogramBuckets(samples, 'warren_task_processing_seconds', sleepy);
  assert.equal(processing.find((bucket) => bucket.le === 0.1)?.count, 0, `no attempt took under 0.1 s, each slept ${SLEEP_MS} ms`);
  assert.equal(processing.at(-1)?.le, Infinity);
  assert.equal(processing.at(-1)?.count, SLEEPY_TASKS);
  assert.equal(sampleValue(samples, 'warren_task_processing_seconds_count', sleepy), SLEEPY_TASKS);
  const processingSum = sampleValue(samples, 'warren_task_processing_seconds_sum', sleepy) ?? 0;
  // A timer may fire up to 1 ms before Date.now() says its delay has passed (libuv's loop time is cached), so 1 ms per task is allowed.
  assert.ok(processingSum >= (SLEEPY_TASKS * (SLEEP_MS - 1)) / 1000, `processing sum ${processingSum} s below ${SLEEPY_TASKS} x ${SLEEP_MS - 1} ms`);
  assert.ok(processingSum / SLEEPY_TASKS < 5, `mean processing ${processingSum / SLEEPY_TASKS} s is implausible for a ${SLEEP_MS} ms sleep`);
  const responseSum = sampleValue(samples, 'warren_task_response_seconds_sum', sleepy) ?? 0;
  const waitSum = sampleValue(samples, 'warren_task_wait_seconds_sum', sleepy) ?? -1;
  assert.ok(waitSum >= 0 && responseSum >= processingSum, `response ${responseSum} s covers processing ${processingSum} s, wait ${waitSum} s`);
  for (const family of ['warren_task_wait_seconds', 'warren_task_processing_seconds', 'warren_task_response_seconds']) {
    const counts = histogramBuckets(samples, family, sleepy).map((bucket) => bucket.count);
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), `${family} buckets are cumulative`);
  }

  // The exact median of GET /api/tasks/stats falls in the bucket where the histogram crosses half its count.
  const stats = (await (await fetch(`${base}/api/tasks/stats`, { headers: GUEST })).json()) as Record<string, TaskNameStats>;
  const medianSeconds = (stats['metrics.sleepy']?.sinceStart.processingMs?.p50 ?? NaN) / 1000;
  const crossing = processing.findIndex((bucket) => bucket.count >= SLEEPY_TASKS / 2);
  const lower = crossing > 0 ? (processing[crossing - 1]?.le ?? 0) : 0;
  const upper = processing[crossing]?.le ?? NaN;
  assert.ok(medianSeconds > lower && medianSeconds <= upper, `stats p50 ${medianSeconds} s outside the histogram's median bucket (${lower}, ${upper}]`);
  assert.equal(stats['metrics.sleepy']?.sinceStart.finished, SLEEPY_TASKS);
});

test('/metrics answers without credentials, as Prometheus text, and passes promtool check metrics', { ...skipExternal, skip: skipExternal.skip || promtoolSkip }, async () => {
  const { response, text } = await scrape();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  for (const family of ['warren_task_finished_total counter', 'warren_task_wait_seconds histogram', 'warren_task_processing_seconds histogram', 'warren_task_response_seconds histogram']) {
    assert.match(text, new RegExp(`^# TYPE ${family}$`, 'm'));
  }
  assert.equal((await scrape({ authorization: 'Basic bm90OnJpZ2h0' })).response.status, 200, 'credentials are not checked, even wrong ones');
  const checked = promtoolCheckMetrics(text);
  assert.equal(checked.status, 0, checked.output);
});
