/**
 * The idempotency example (docs/idempotency.md, docs/examples/idempotent-submit.ts) runs against an
 * in-process Warren with its keeper: the repeated submit is a replay of the first task and the card is
 * charged once; run as a script it prints the same lines.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runIdempotencyExample } from '../../docs/examples/idempotent-submit.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { runDocsExample } from '../helpers/docs-example.js';

let broker: TestBroker;
before(async () => {
  broker = await startTestBroker({ tasks: { keeperEnabled: true } });
});
after(async () => {
  await broker.close();
});

const expected = ['same task: true, replayed: true', 'charged 4200 cents for order A-1001'];

test('the repeated submit returns the first task and charges once', { timeout: 20_000 }, async () => {
  const printed: string[] = [];
  assert.deepEqual(await runIdempotencyExample(broker.url, (line) => printed.push(line)), { charges: 1 });
  assert.deepEqual(printed, expected);
});

test('run as a script, the example prints the same lines and exits', { timeout: 20_000 }, async () => {
  const { code, stdout, stderr } = await runDocsExample('idempotent-submit.ts', [broker.url]);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, `${expected.join('\n')}\n`);
});
