/** optionsJson gives what JSON.stringify gives, taking the defaults' text from a cache. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { optionsJson } from '../../../src/tasks/options-json.js';
import { DEFAULT_TASK_OPTIONS, type TaskOptions } from '../../../src/tasks/protocol.js';

test('optionsJson: the defaults (a copy, or parsed back) give their text; any other value, extra member or missing one gives its own', () => {
  const copy = structuredClone(DEFAULT_TASK_OPTIONS);
  assert.equal(optionsJson(copy), JSON.stringify(DEFAULT_TASK_OPTIONS));
  assert.equal(optionsJson(JSON.parse(JSON.stringify(DEFAULT_TASK_OPTIONS)) as TaskOptions), JSON.stringify(DEFAULT_TASK_OPTIONS));
  const variants: TaskOptions[] = [
    { ...copy, attempts: 3 },
    { ...copy, timeoutMs: 5000 },
    { ...copy, priority: 2 },
    { ...copy, delayMs: 10 },
    { ...copy, backoff: { ...copy.backoff, kind: 'fixed' } },
    { ...copy, backoff: { ...copy.backoff, delayMs: 5 } },
    { ...copy, backoff: { ...copy.backoff, jitter: false } },
    { ...copy, callbackUrl: 'http://127.0.0.1/hook' },
    { ...copy, backoff: { ...copy.backoff, extra: 1 } as TaskOptions['backoff'] },
  ];
  for (const options of variants) assert.equal(optionsJson(options), JSON.stringify(options));
  const { priority: _priority, ...missing } = copy;
  assert.equal(optionsJson({ ...missing, other: 0 } as unknown as TaskOptions), JSON.stringify({ ...missing, other: 0 }));
});
