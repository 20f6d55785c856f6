/**
 * `warren ctl` as a child process against an in-process node (with its task keeper and a real task
 * worker): lists as tables and JSON, the verbs that change things (checked over AMQP and HTTP),
 * definitions round-tripped through a file, closing a connection, tasks, and every exit code.
 * The CLI runs asynchronously (spawn) so the in-process broker keeps serving it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { createWorker, type Worker } from '../../src/tasks/worker.js';
import { waitFor } from '../helpers/amqp.js';
import { freePort } from '../helpers/checks.js';

const options = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : false, timeout: 90_000 };
const GUEST = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

let node: WarrenNode;
let worker: Worker;
let dataDir: string;
let base: string;
let amqpUrl: string;

type Json = Record<string, unknown>;

interface CtlRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `warren ctl ARGS` from source against the node (WARREN_API_URL, unless `env` says otherwise). */
function ctl(args: string[], env: Record<string, string> = {}): Promise<CtlRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'ctl', ...args], {
    env: { ...process.env, WARREN_API_URL: base, WARREN_USER: 'guest', WARREN_PASSWORD: 'guest', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs ctl and asserts it succeeded. */
async function ctlOk(args: string[], env: Record<string, string> = {}): Promise<string> {
  const run = await ctl(args, env);
  assert.equal(run.code, 0, `warren ctl ${args.join(' ')} failed:\n${run.stderr}${run.stdout}`);
  return run.stdout;
}

/** Runs ctl with --format json and parses its output. */
async function ctlJson(args: string[]): Promise<unknown> {
  return JSON.parse(await ctlOk(['--format', 'json', ...args])) as unknown;
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${base}${path}`, {
    method, headers: { ...GUEST, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
}

/** The table's data rows, each split on runs of two or more spaces. */
function tableRows(table: string): string[][] {
  return table.trimEnd().split('\n').slice(1).map((line) => line.trim().split(/ {2,}/));
}

before(async () => {
  if (options.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-ctl-'));
  // The task keeper runs in this node, so the gateway's task routes answer.
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' });
  base = `http://127.0.0.1:${node.httpPort}`;
  amqpUrl = `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
  worker = createWorker({ url: amqpUrl, concurrency: 2, shutdownTimeoutMs: 1000 });
  worker.handle<{ n: number }, number>('ctl.square', ({ n }) => n * n);
  worker.handle('ctl.fail', () => {
    throw new Error('always fails');
  });
  await worker.start();
});

after(async () => {
  if (options.skip !== false) return;
  await worker.close();
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('queues: declare, list as a table and as JSON with the published count, purge, delete', options, async () => {
  assert.match(await ctlOk(['queues', 'declare', 'ctl.q', '--arguments', '{"x-max-length":10}']), /declared queue 'ctl.q' in vhost '\/'/);
  const connection = await amqplib.connect(amqpUrl);
  try {
    const channel = await connection.createConfirmChannel();
    for (const body of ['one', 'two']) channel.sendToQueue('ctl.q', Buffer.from(body));
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
  const table = await ctlOk(['queues', 'list', '--name', 'ctl.q']);
  assert.match(table.split('\n')[0] ?? '', /^name\s+messages_ready\s+messages_unacknowledged\s+consumers\s+durable$/);
  assert.deepEqual(tableRows(table), [['ctl.q', '2', '0', '0', 'true']]);
  const listed = (await ctlJson(['queues', 'list', '--name', 'ctl.'])) as Json[];
  const queue = listed.find((item) => item['name'] === 'ctl.q');
  assert.equal(queue?.['messages_ready'], 2);
  assert.deepEqual(queue?.['arguments'], { 'x-max-length': 10 }, 'json shows the API\'s whole item');

  await ctlOk(['queues', 'purge', 'ctl.q']);
  assert.equal(((await api('GET', '/api/queues/%2F/ctl.q')).json as Json)['messages'], 0);
  await ctlOk(['queues', 'delete', 'ctl.q']);
  assert.equal((await api('GET', '/api/queues/%2F/ctl.q')).status, 404);
  const again = await ctl(['queues', 'delete', 'ctl.q']);
  assert.equal(again.code, 3, 'deleting an unknown queue: not found');
  assert.match(again.stderr, /Object Not Found/);
});

test('exchanges and bindings: declare, list, delete by source, destination and routing key', options, async () => {
  await ctlOk(['queues', 'declare', 'ctl.bound', '--no-durable']);
  assert.equal(((await api('GET', '/api/queues/%2F/ctl.bound')).json as Json)['durable'], false);
  await ctlOk(['exchanges', 'declare', 'ctl.topic', '--type', 'topic']);
  await ctlOk(['bindings', 'declare', 'ctl.topic', 'ctl.bound', '--routing-key', 'orders.*']);
  await ctlOk(['bindings', 'declare', 'ctl.topic', 'amq.fanout', '--destination-type', 'exchange', '--routing-key', 'e2e']);
  const exchanges = tableRows(await ctlOk(['exchanges', 'list', '--name', 'ctl.']));
  assert.deepEqual(exchanges, [['ctl.topic', 'topic', 'true', 'false', 'false']]);
  const bindings = tableRows(await ctlOk(['bindings', 'list'])).filter((row) => row[0] === 'ctl.topic');
  assert.deepEqual(bindings, [['ctl.topic', 'ctl.bound', 'queue', 'orders.*', '{}'], ['ctl.topic', 'amq.fanout', 'exchange', 'e2e', '{}']]);

  const missing = await ctl(['bindings', 'delete', 'ctl.topic', 'ctl.bound', '--routing-key', 'nope']);
  assert.equal(missing.code, 3);
  await ctlOk(['bindings', 'delete', 'ctl.topic', 'ctl.bound', '--routing-key', 'orders.*']);
  await ctlOk(['bindings', 'delete', 'ctl.topic', 'amq.fanout', '--destination-type', 'exchange', '--routing-key', 'e2e']);
  assert.deepEqual((await api('GET', '/api/exchanges/%2F/ctl.topic/bindings/source')).json, []);
  await ctlOk(['exchanges', 'delete', 'ctl.topic', '--if-unused']);
  await ctlOk(['queues', 'delete', 'ctl.bound']);
  assert.equal((await api('GET', '/api/exchanges/%2F/ctl.topic')).status, 404);
});

test('definitions: export to a file, delete, import the file back; export to stdout', options, async () => {
  await ctlOk(['vhosts', 'add', 'ctl-defs']);
  await ctlOk(['--vhost', 'ctl-defs', 'queues', 'declare', 'ctl.defs.q', '--arguments', '{"x-message-ttl":60000}']);
  const file = join(dataDir, 'definitions.json');
  assert.match(await ctlOk(['definitions', 'export', file]), /exported definitions/);
  const exported = JSON.parse(await readFile(file, 'utf8')) as Json;
  assert.ok((exported['queues'] as Json[]).some((queue) => queue['name'] === 'ctl.defs.q' && queue['vhost'] === 'ctl-defs'));

  await ctlOk(['vhosts', 'delete', 'ctl-defs']);
  assert.equal((await api('GET', '/api/queues/ctl-defs/ctl.defs.q')).status, 404);
  await ctlOk(['definitions', 'import', file]);
  const restored = (await ctlJson(['queues', 'list', '--vhost', 'ctl-defs'])) as Json[];
  assert.deepEqual(restored.map((queue) => [queue['name'], queue['arguments']]), [['ctl.defs.q', { 'x-message-ttl': 60000 }]]);

  const stdout = (await ctlJson(['definitions', 'export', '--vhost', 'ctl-defs', '--vhost-only'])) as Json;
  assert.deepEqual((stdout['queues'] as Json[]).map((queue) => queue['name']), ['ctl.defs.q']);
  await ctlOk(['vhosts', 'delete', 'ctl-defs']);
});

test('users, permissions and policies: set, seen over AMQP and HTTP, cleared', options, async () => {
  // The login --password goes before the noun; the one after `users add` is the new user's.
  await ctlOk(['--password', 'guest', 'users', 'add', 'ctl-carol', '--password', 'carol-pw', '--tags', 'management']);
  assert.deepEqual(tableRows(await ctlOk(['users', 'list', '--name', 'ctl-carol'])), [['ctl-carol', '["management"]']]);
  await ctlOk(['permissions', 'set', 'ctl-carol', '--configure', '^carol\\.', '--read', '^carol\\.']);
  const permissions = (await ctlJson(['permissions', 'list'])) as Json[];
  assert.deepEqual(permissions.find((item) => item['user'] === 'ctl-carol'), { user: 'ctl-carol', vhost: '/', configure: '^carol\\.', write: '.*', read: '^carol\\.' });
  const connection = await amqplib.connect(`amqp://ctl-carol:carol-pw@127.0.0.1:${node.amqpPort}`);
  await connection.close();
  assert.equal((await ctl(['vhosts', 'list'], { WARREN_USER: 'ctl-carol', WARREN_PASSWORD: 'carol-pw' })).code, 0, 'a management user may list');
  const notAdministrator = await ctl(['--user', 'ctl-carol', '--password', 'carol-pw', 'users', 'list']);
  assert.equal(notAdministrator.code, 4, 'a management user is not an administrator');

  await ctlOk(['policies', 'set', 'ctl-limit', '^ctl\\.limited$', '{"max-length":1}', '--priority', '5', '--apply-to', 'queues']);
  assert.deepEqual(tableRows(await ctlOk(['policies', 'list', '--name', 'ctl-limit'])), [['ctl-limit', '^ctl\\.limited$', 'queues', '5', '{"max-length":1}']]);
  await ctlOk(['queues', 'declare', 'ctl.limited']);
  assert.equal(((await api('GET', '/api/queues/%2F/ctl.limited')).json as Json)['policy'], 'ctl-limit');
  await ctlOk(['policies', 'clear', 'ctl-limit']);
  await ctlOk(['queues', 'delete', 'ctl.limited']);
  assert.equal((await api('GET', '/api/policies/%2F/ctl-limit')).status, 404);

  await ctlOk(['permissions', 'clear', 'ctl-carol']);
  assert.equal((await api('GET', '/api/permissions/%2F/ctl-carol')).status, 404);
  await ctlOk(['users', 'delete', 'ctl-carol']);
  assert.equal((await ctl(['vhosts', 'list'], { WARREN_USER: 'ctl-carol', WARREN_PASSWORD: 'carol-pw' })).code, 4, 'a deleted user cannot log in');
});

test('connections: listed, closed with a reason the client sees with 320', options, async () => {
  const connection = await amqplib.connect(amqpUrl, { clientProperties: { connection_name: 'ctl-test' } });
  connection.on('error', () => {});
  const closed = new Promise<Error>((resolve) => connection.on('close', resolve));
  const listed = (await ctlJson(['connections', 'list'])) as Json[];
  const mine = listed.find((item) => (item['client_properties'] as Json)['connection_name'] === 'ctl-test');
  const name = String(mine?.['name']);
  assert.ok(tableRows(await ctlOk(['connections', 'list'])).some((row) => row[0] === name && row[1] === 'guest'));
  assert.match(await ctlOk(['connections', 'close', name, '--reason', 'maintenance window']), /closed connection/);
  const error = await closed;
  assert.match(error.message, /320/);
  assert.match(error.message, /maintenance window/);
});

test('tasks: list, get, retry a dead one, cancel a queued one', options, async () => {
  const submit = async (name: string, body: unknown): Promise<string> => {
    const answer = await api('POST', `/api/tasks/${name}`, body);
    assert.equal(answer.status, 202);
    return String((answer.json as Json)['id']);
  };
  const stateOf = async (id: string): Promise<unknown> => ((await api('GET', `/api/tasks/${id}`)).json as Json)['state'];
  const squared = await submit('ctl.square', { payload: { n: 7 } });
  const failed = await submit('ctl.fail', { options: { attempts: 1 } });
  const idle = await submit('ctl.idle', {});
  await waitFor(async () => (await stateOf(squared)) === 'succeeded' && (await stateOf(failed)) === 'dead', 20_000, 'tasks to finish');
  await waitFor(async () => ((await api('GET', '/api/tasks?name=ctl.idle')).json as Json[]).length === 1, 10_000, 'the keeper to record ctl.idle');

  const rows = tableRows(await ctlOk(['tasks', 'list', '--name', 'ctl.square']));
  assert.deepEqual(rows.map((row) => row.slice(0, 4)), [[squared, 'ctl.square', 'succeeded', '1']]);
  assert.deepEqual(((await ctlJson(['tasks', 'list', '--state', 'dead'])) as Json[]).map((task) => task['id']), [failed]);
  const task = (await ctlJson(['tasks', 'get', squared])) as Json;
  assert.equal(task['result'], 49);
  assert.match(await ctlOk(['tasks', 'get', squared]), /^result\s+49$/m, 'table: one field per line');

  assert.equal(((await ctlJson(['tasks', 'retry', failed])) as Json)['state'], 'queued');
  assert.equal(((await ctlJson(['tasks', 'cancel', idle])) as Json)['state'], 'cancelled');
  const refused = await ctl(['tasks', 'retry', idle]);
  assert.equal(refused.code, 2, 'retrying a cancelled task: 409, refused');
  assert.equal((await ctl(['tasks', 'get', 'no-such-task'])).code, 3);
});

test('exit codes: usage 1, refused 2, not found 3, authentication 4, cannot connect 5, server error 6', options, async () => {
  const closedPort = await freePort();
  // A node without a task keeper answers the task routes with 503.
  const keeperlessDir = await mkdtemp(join(tmpdir(), 'warren-ctl-keeperless-'));
  const keeperless = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir: keeperlessDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
  const [wrongPassword, unreachable, badUrl, badFormat, missingName, badJson, badType, unknownVhost, unknownVerb, unavailable] = await Promise.all([
    ctl(['--password', 'wrong', 'queues', 'list']),
    ctl(['queues', 'list', '--url', `http://127.0.0.1:${closedPort}`]),
    ctl(['queues', 'list'], { WARREN_API_URL: 'amqp://127.0.0.1:5672' }),
    ctl(['--format', 'xml', 'queues', 'list']),
    ctl(['queues', 'declare']),
    ctl(['queues', 'declare', 'ctl.bad', '--arguments', '{not json']),
    ctl(['exchanges', 'declare', 'ctl.bad', '--type', 'nonsense']),
    ctl(['queues', 'list', '--vhost', 'no-such-vhost']),
    ctl(['queues', 'frobnicate']),
    ctl(['tasks', 'list'], { WARREN_API_URL: `http://127.0.0.1:${keeperless.httpPort}` }),
  ]).finally(async () => {
    await keeperless.close();
    await rm(keeperlessDir, { recursive: true, force: true });
  });
  assert.equal(wrongPassword.code, 4);
  assert.match(wrongPassword.stderr, /^warren ctl: .*401/);
  assert.equal(unreachable.code, 5);
  assert.match(unreachable.stderr, /cannot connect to .*ECONNREFUSED/);
  assert.equal(badUrl.code, 1);
  assert.match(badUrl.stderr, /--url must be an http\(s\) URL/);
  for (const run of [badFormat, missingName, badJson, unknownVerb]) assert.equal(run.code, 1, run.stderr);
  assert.equal(badType.code, 2, 'a 400 from the server');
  assert.match(badType.stderr, /unknown exchange type 'nonsense'/, 'the API\'s reason');
  assert.equal(unknownVhost.code, 3);
  assert.equal(unavailable.code, 6, unavailable.stderr);
});
