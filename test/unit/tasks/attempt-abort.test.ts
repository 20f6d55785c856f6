/** AttemptAbort (src/tasks/attempt-abort.ts) and the ctx built on it (src/tasks/attempt-context.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AttemptAbort } from '../../../src/tasks/attempt-abort.js';
import { AttemptContext } from '../../../src/tasks/attempt-context.js';
import type { TaskHeaders } from '../../../src/tasks/worker-message.js';

test('the signal read after the abort is already aborted with the first reason; later aborts change nothing', () => {
  const abort = new AttemptAbort();
  const first = new Error('first');
  abort.abort(first);
  abort.abort(new Error('second'));
  assert.equal(abort.signal.aborted, true);
  assert.equal(abort.signal.reason, first);
  assert.equal(abort.signal, abort.signal, 'one signal per attempt');
});

test('a signal read before the abort fires its listeners with the reason', () => {
  const abort = new AttemptAbort();
  const seen: unknown[] = [];
  abort.signal.addEventListener('abort', () => seen.push(abort.signal.reason));
  const reason = new Error('timeout');
  abort.abort(reason);
  assert.deepEqual(seen, [reason]);
});

test('race: the abort reason wins over a handler promise its own abort listener rejects', async () => {
  const abort = new AttemptAbort();
  const handlerPromise = new Promise((_resolve, reject) => abort.signal.addEventListener('abort', () => reject(new Error('handler AbortError'))));
  const raced = abort.race(handlerPromise);
  const reason = new Error('the attempt timed out');
  abort.abort(reason);
  await assert.rejects(raced, (error) => error === reason);
});

test('race: settles with the handler when it settles first; rejects at once when already aborted', async () => {
  const settled = new AttemptAbort();
  assert.equal(await settled.race(Promise.resolve('ok')), 'ok');
  const aborted = new AttemptAbort();
  const reason = new Error('stopped');
  aborted.abort(reason);
  await assert.rejects(aborted.race(new Promise(() => {})), (error) => error === reason);
});

const task: TaskHeaders = {
  id: 'id-1', name: 'emails.send', attempt: 2, maxAttempts: 3, timeoutMs: 0, enqueuedAt: 1_764_134_400_000, run: 1,
  backoff: { kind: 'fixed', delayMs: 0, jitter: false },
};

test('ctx has own enumerable members in the documented order; spreading it carries the signal', () => {
  const abort = new AttemptAbort();
  const reports: unknown[] = [];
  const ctx = new AttemptContext(task, { traceparent: 'tp' }, abort, (value) => reports.push(value));
  assert.deepEqual(Object.keys(ctx), ['id', 'name', 'attempt', 'maxAttempts', 'signal', 'enqueuedAt', 'headers', 'progress']);
  const copy = { ...ctx };
  assert.equal(copy.signal, ctx.signal);
  assert.equal(JSON.stringify(ctx), '{"id":"id-1","name":"emails.send","attempt":2,"maxAttempts":3,"signal":{},"enqueuedAt":1764134400000,"headers":{"traceparent":"tp"}}');
  const { progress } = ctx;
  progress(50);
  assert.deepEqual(reports, [50], 'progress works detached');
});
