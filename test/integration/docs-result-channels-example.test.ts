/**
 * docs/examples/result-channels.ts (docs/result-channels.md) runs against an in-process Warren with
 * its result keeper and HTTP gateway: one task's result arrives through the SDK await, an HTTP
 * long-poll, a verified webhook and an AMQP reply, the same value each time, also run as a script.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fourChannels } from '../../docs/examples/result-channels.js';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { runDocsExample } from '../helpers/docs-example.js';

const skip = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : false, timeout: 30_000 };
let node: WarrenNode;
let dataDir: string;
let endpoints: { amqpUrl: string; httpUrl: string };

before(async () => {
  if (skip.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-result-channels-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' });
  endpoints = { amqpUrl: `amqp://guest:guest@127.0.0.1:${node.amqpPort}`, httpUrl: `http://127.0.0.1:${node.httpPort}` };
});

after(async () => {
  if (skip.skip !== false) return;
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('one task, four channels, one result', skip, async () => {
  const printed: string[] = [];
  const results = await fourChannels(endpoints, (line) => printed.push(line));
  assert.deepEqual(results, { awaited: 'cat-320w.webp', polled: 'cat-320w.webp', webhook: 'cat-320w.webp', reply: 'cat-320w.webp' });
  assert.deepEqual(printed, ['awaited: "cat-320w.webp"', 'polled: "cat-320w.webp"', 'webhook: "cat-320w.webp"', 'reply: "cat-320w.webp"']);
});

test('run as a script, the example prints the four results and exits', skip, async () => {
  const { code, stdout, stderr } = await runDocsExample('result-channels.ts', [endpoints.amqpUrl, endpoints.httpUrl]);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, 'awaited: "cat-320w.webp"\npolled: "cat-320w.webp"\nwebhook: "cat-320w.webp"\nreply: "cat-320w.webp"\n');
});
