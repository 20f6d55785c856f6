/**
 * The example of docs/progress-and-cancellation.md (docs/examples/progress-and-cancellation.ts) runs
 * against an in-process Warren with its result keeper: the short batch prints its progress up to 100%
 * and its result, the long one is cancelled part way and its handler stopped; run as a script it
 * prints the same.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runExample } from '../../docs/examples/progress-and-cancellation.js';
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

/** Checks the lines the example printed. */
function checkPrinted(lines: readonly string[]): void {
  const progress = lines.filter((line) => line.startsWith('progress '));
  assert.ok(progress.length >= 1, lines.join('\n'));
  assert.equal(progress.at(-1), 'progress {"done":5,"of":5,"percent":100}');
  const rest = lines.filter((line) => !line.startsWith('progress '));
  assert.equal(rest.length, 3, lines.join('\n'));
  assert.deepEqual(rest.slice(0, 2), ['resized 5 images', 'cancel: the task is cancelled']);
  const done = Number(/^cancelled after (\d+) of 1000 images$/.exec(rest[2] ?? '')?.[1]);
  assert.ok(done >= 5 && done < 1000, rest[2]);
}

test('the example prints the progress and result of one batch, and cancels the other part way', { timeout: 30_000 }, async () => {
  const printed: string[] = [];
  await runExample(broker.url, (line) => printed.push(line));
  checkPrinted(printed);
  const tasks = connectTasks({ url: broker.url });
  try {
    const records = await tasks.list({ name: 'resize-batch' });
    assert.deepEqual(records.map((record) => record.state), ['cancelled', 'succeeded']);
  } finally {
    await tasks.close();
  }
});

test('run as a script, the example prints the same and exits', { timeout: 30_000 }, async () => {
  const { code, stdout, stderr } = await runDocsExample('progress-and-cancellation.ts', [broker.url]);
  assert.equal(code, 0, stderr);
  checkPrinted(stdout.trimEnd().split('\n'));
});
