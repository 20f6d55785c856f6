/**
 * rabbitmqadmin, the management API client Debian's rabbitmq-server package ships, against an
 * in-process Warren: list queues, exchanges and bindings, declare a queue and a binding, publish,
 * get. In CI a missing rabbitmqadmin fails the suite; elsewhere it is skipped.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startWarren, type WarrenNode } from '../../src/main.js';

const RABBITMQADMIN = '/usr/bin/rabbitmqadmin';
const inCi = (process.env['CI'] ?? '') !== '' && process.env['CI'] !== 'false';
const missing = existsSync(RABBITMQADMIN) ? undefined : `${RABBITMQADMIN} not found (apt-get install rabbitmq-server)`;
const options = {
  skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : missing !== undefined && !inCi ? `skipped: ${missing}` : false,
  timeout: 60_000,
};

let node: WarrenNode;
let dataDir: string;

before(async () => {
  if (options.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-rabbitmqadmin-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
});

after(async () => {
  if (options.skip !== false) return;
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** Runs rabbitmqadmin against the node (asynchronously: the node answers from this process); rejects on a non-zero exit. */
function rabbitmqadmin(...args: string[]): Promise<string> {
  assert.equal(missing, undefined, missing);
  const fullArgs = ['-H', '127.0.0.1', '-P', String(node.httpPort), '-u', 'guest', '-p', 'guest', ...args];
  return new Promise((resolve, reject) => {
    execFile(RABBITMQADMIN, fullArgs, { encoding: 'utf8', timeout: 20_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`rabbitmqadmin ${args.join(' ')} failed: ${error.message}\n${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}

/** rabbitmqadmin's tab-separated output (-f tsv) as rows of named columns. */
function rows(output: string): Record<string, string>[] {
  const [header, ...lines] = output.trim().split('\n');
  const columns = (header ?? '').split('\t');
  return lines.map((line) => Object.fromEntries(line.split('\t').map((value, index) => [columns[index] ?? String(index), value])));
}

test('rabbitmqadmin declares, publishes, gets and lists against Warren', options, async () => {
  assert.match(await rabbitmqadmin('declare', 'queue', 'name=admin.q', 'durable=true'), /queue declared/);
  assert.match(await rabbitmqadmin('declare', 'exchange', 'name=admin.x', 'type=direct'), /exchange declared/);
  assert.match(await rabbitmqadmin('declare', 'binding', 'source=admin.x', 'destination=admin.q', 'routing_key=rk'), /binding declared/);
  assert.match(await rabbitmqadmin('publish', 'exchange=admin.x', 'routing_key=rk', 'payload=hello from rabbitmqadmin'), /Message published/);

  const queues = rows(await rabbitmqadmin('-f', 'tsv', 'list', 'queues', 'name', 'messages', 'durable'));
  assert.deepEqual(queues.find((queue) => queue['name'] === 'admin.q'), { name: 'admin.q', messages: '1', durable: 'True' });
  const exchanges = rows(await rabbitmqadmin('-f', 'tsv', 'list', 'exchanges', 'name', 'type'));
  assert.deepEqual(exchanges.find((exchange) => exchange['name'] === 'admin.x'), { name: 'admin.x', type: 'direct' });
  assert.ok(exchanges.some((exchange) => exchange['name'] === 'amq.topic'));
  const bindings = rows(await rabbitmqadmin('-f', 'tsv', 'list', 'bindings', 'source', 'destination', 'routing_key'));
  assert.ok(bindings.some((binding) => binding['source'] === 'admin.x' && binding['destination'] === 'admin.q' && binding['routing_key'] === 'rk'));

  const got = rows(await rabbitmqadmin('-f', 'tsv', 'get', 'queue=admin.q', 'ackmode=ack_requeue_false'));
  assert.equal(got[0]?.['payload'], 'hello from rabbitmqadmin');
  assert.equal(got[0]?.['routing_key'], 'rk');
  const after = rows(await rabbitmqadmin('-f', 'tsv', 'list', 'queues', 'name', 'messages'));
  assert.equal(after.find((queue) => queue['name'] === 'admin.q')?.['messages'], '0');
  assert.match(await rabbitmqadmin('delete', 'queue', 'name=admin.q'), /queue deleted/);
});
