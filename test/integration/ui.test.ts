/**
 * The web UI in headless Chromium (Debian's chromium, playwright-core) against an in-process node with
 * its task keeper and a real task worker: log in, the overview's charts follow live traffic, a queue is
 * created, a message published, got and purged through the UI, and a task's page shows its state
 * history. With WARREN_UI_SCREENSHOTS=<dir> (npm run screenshots) it also saves the screenshots the
 * README shows.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import amqp from 'amqplib';
import type { Browser, Page } from 'playwright-core';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { createWorker, type Worker } from '../../src/tasks/worker.js';
import { launchChromium, skip as chromiumSkip } from '../helpers/chromium.js';

const skip = process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : chromiumSkip;
const options = { skip, timeout: 60_000 };
const GUEST = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
const SCREENSHOTS_DIR = process.env['WARREN_UI_SCREENSHOTS'];

let node: WarrenNode;
let dataDir: string;
let worker: Worker;
let browser: Browser;
let page: Page;
let base: string;
/** Browser-side errors (uncaught exceptions, console errors): the UI must raise none. */
const pageErrors: string[] = [];

before(async () => {
  if (skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-ui-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' });
  base = `http://127.0.0.1:${node.httpPort}`;
  worker = createWorker({ url: `amqp://guest:guest@127.0.0.1:${node.amqpPort}`, concurrency: 2, shutdownTimeoutMs: 1000 });
  worker.handle<{ width: number }, { thumbnail: string }>('resize', async ({ width }, ctx) => {
    if (width < 0) throw new Error('negative width');
    ctx.progress(50);
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { thumbnail: `cat-${width}.png` };
  });
  await worker.start();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().includes('status of 4')) pageErrors.push(message.text());
  });
  // Purge and delete ask for confirmation.
  page.on('dialog', (dialog) => void dialog.accept());
});

after(async () => {
  if (skip !== false) return;
  await browser?.close();
  await worker?.close();
  await node?.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function screenshot(name: string): Promise<void> {
  const dir = SCREENSHOTS_DIR ?? join(dataDir, 'screenshots');
  await mkdir(dir, { recursive: true });
  await page.mouse.wheel(0, -100_000);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

/** The text of the first element `selector` matches, once it matches `expected`. */
async function waitForText(selector: string, expected: RegExp, timeoutMs = 10_000, on: Page = page): Promise<string> {
  const locator = on.locator(selector).first();
  await locator.waitFor({ timeout: timeoutMs });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = (await locator.textContent()) ?? '';
    if (expected.test(text)) return text;
    if (Date.now() > deadline) assert.fail(`${selector} shows '${text}', expected ${String(expected)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('/ and the UI files need no credentials and carry a same-origin CSP; /api still does', options, async () => {
  const index = await fetch(`${base}/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type') ?? '', /text\/html/);
  assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.match(await index.text(), /\/ui\/main\.js/);
  const script = await fetch(`${base}/ui/main.js`);
  assert.equal(script.status, 200);
  assert.match(script.headers.get('content-type') ?? '', /javascript/);
  assert.equal((await fetch(`${base}/ui/../package.json`)).status, 404);
  assert.equal((await fetch(`${base}/ui/nothing.js`)).status, 404);
  const api = await fetch(`${base}/api/overview`);
  assert.equal(api.status, 401);
  assert.ok(api.headers.get('www-authenticate'));
  // The UI's own requests get no challenge, so the browser shows no password dialog of its own.
  const fromUi = await fetch(`${base}/api/overview`, { headers: { 'x-requested-with': 'XMLHttpRequest' } });
  assert.equal(fromUi.status, 401);
  assert.equal(fromUi.headers.get('www-authenticate'), null);
});

test('the login form refuses a wrong password and logs in with the right one', options, async () => {
  await page.goto(`${base}/`);
  await page.fill('#login input[name=username]', 'guest');
  await page.fill('#login input[name=password]', 'wrong');
  await page.click('#login button[type=submit]');
  await waitForText('#login .status', /401/);
  await page.fill('#login input[name=password]', 'guest');
  await page.click('#login button[type=submit]');
  await page.locator('#object-totals .total').first().waitFor();
  await waitForText('#whoami', /guest/);
});

test('the overview charts follow live traffic', options, async () => {
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
  try {
    const channel = await connection.createChannel();
    await channel.assertQueue('ui-live', { durable: false });
    for (let index = 0; index < 40; index++) channel.sendToQueue('ui-live', Buffer.from(`message ${index}`));
    // Depths show at the next poll; rates at the next 5 s sample of the counters.
    await waitForText('#depths-chart [data-series=messages_ready] .legend-value', /^40$/, 10_000);
    await waitForText('#rates-chart [data-series=publish] .legend-value', /^[1-9][\d.]*\/s$/, 15_000);
    const points = Number(await page.locator('#rates-chart canvas').getAttribute('data-points'));
    assert.ok(points >= 2, `the rates chart has ${points} samples`);
    await waitForText('#object-totals [data-total=queues] .total-value', /^[1-9]/);
    await waitForText('#object-totals [data-total=connections] .total-value', /^[1-9]/);
    if (SCREENSHOTS_DIR !== undefined) await steadyTraffic(channel, 'ui-live', 20_000);
    await screenshot('overview');
    await channel.close();
  } finally {
    await connection.close();
  }
});

/** Submits a task over HTTP; returns its id. */
async function submitTask(name: string, body: object): Promise<string> {
  const submitted = await fetch(`${base}/api/tasks/${name}`, { method: 'POST', headers: { ...GUEST, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(submitted.status, 202);
  return ((await submitted.json()) as { id: string }).id;
}

async function putJson(path: string, body: object): Promise<void> {
  const response = await fetch(`${base}${path}`, { method: 'PUT', headers: { ...GUEST, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.ok(response.ok, `PUT ${path}: ${response.status}`);
}

/** Publishes, gets and acks at a varying pace for `durationMs`, so the screenshot's charts have a shape. */
async function steadyTraffic(channel: amqp.Channel, queue: string, durationMs: number): Promise<void> {
  for (let second = 0; second * 1000 < durationMs; second++) {
    const publishes = 20 + Math.round(15 * Math.sin(second / 3));
    for (let index = 0; index < publishes; index++) channel.sendToQueue(queue, Buffer.from(`burst ${second}.${index}`));
    for (let index = 0; index < publishes - 5; index++) {
      const message = await channel.get(queue);
      if (message !== false) channel.ack(message);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

test('a queue is created, a message published, got and purged through the UI', options, async () => {
  // The screenshot shows a long list (1,000 more queues), paginated by the server.
  if (SCREENSHOTS_DIR !== undefined) for (let index = 0; index < 1000; index++) await putJson(`/api/queues/%2F/billing.invoice-${String(index).padStart(4, '0')}`, {});
  await page.goto(`${base}/#/queues`);
  await page.fill('#create-queue input[name=name]', 'ui-orders');
  await page.click('#create-queue button[type=submit]');
  await waitForText('#create-queue .status', /declared/);
  const declared = await fetch(`${base}/api/queues/%2F/ui-orders`, { headers: GUEST });
  assert.equal(declared.status, 200);
  await waitForText('[data-summary-for=queues-table]', /page 1 of/);
  await screenshot('queues');
  await page.fill('[data-filter-for=queues-table]', 'ui-');
  await waitForText('[data-summary-for=queues-table]', /2 matching of/);
  await waitForText('#queues-table tbody', /ui-orders/);

  await page.click('#queues-table a:text-is("ui-orders")');
  await page.locator('#publish-message').waitFor();
  await page.fill('#publish-message textarea[name=payload]', 'hello from the UI');
  await page.click('#publish-message button[type=submit]');
  await waitForText('#publish-message .status', /published \(routed\)/);
  await waitForText('#queue-summary [data-count=ready]', /^1$/);

  await page.click('#get-messages button[type=submit]');
  await waitForText('#got-messages pre.payload', /^hello from the UI$/);
  // ack_requeue_true: the message is back in the queue.
  await waitForText('#queue-summary [data-count=ready]', /^1$/);

  // Browsing shows the message without taking it.
  await page.click('#browse-messages');
  await waitForText('#browse-results', /hello from the UI/);
  await waitForText('#queue-summary [data-count=ready]', /^1$/);
  await screenshot('queue-detail');

  // Moving it to another queue.
  await putJson('/api/queues/%2F/ui-orders-archive', {});
  await page.fill('#move-messages input[name=destination]', 'ui-orders-archive');
  await page.click('#move-messages button[type=submit]');
  await waitForText('#move-messages .status', /moved 1 message/);
  await waitForText('#queue-summary [data-count=ready]', /^0$/);
  const archive = (await (await fetch(`${base}/api/queues/%2F/ui-orders-archive`, { headers: GUEST })).json()) as { messages: number };
  assert.equal(archive.messages, 1);

  await page.fill('#publish-message textarea[name=payload]', 'to be purged');
  await page.click('#publish-message button[type=submit]');
  await waitForText('#queue-summary [data-count=ready]', /^1$/);
  await page.click('#purge-queue');
  await waitForText('#queue-summary [data-count=ready]', /^0$/);
  const purged = (await (await fetch(`${base}/api/queues/%2F/ui-orders`, { headers: GUEST })).json()) as { messages: number };
  assert.equal(purged.messages, 0);

  // One browsed message deleted by its own button; the other stays.
  for (const payload of ['keep me', 'drop me']) {
    await page.fill('#publish-message textarea[name=payload]', payload);
    await page.click('#publish-message button[type=submit]');
    await waitForText('#publish-message .status', /published \(routed\)/);
  }
  await waitForText('#queue-summary [data-count=ready]', /^2$/);
  await page.click('#browse-messages');
  await waitForText('#browse-results', /drop me/);
  await page.locator('#browse-results article.message', { hasText: 'drop me' }).locator('button[data-message-action]').click();
  await waitForText('#queue-summary [data-count=ready]', /^1$/);
  await waitForText('#browse-results', /keep me/);
  assert.equal(await page.locator('#browse-results article.message', { hasText: 'drop me' }).count(), 0);
});

test('names from the broker are shown as text, never as markup', options, async () => {
  const name = '<img src=x id=injected>';
  const created = await fetch(`${base}/api/queues/%2F/${encodeURIComponent(name)}`, { method: 'PUT', headers: { ...GUEST, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(created.status, 201);
  await page.goto(`${base}/#/queues`);
  await page.fill('[data-filter-for=queues-table]', '<img');
  await waitForText('#queues-table tbody', /<img src=x id=injected>/);
  assert.equal(await page.locator('#injected').count(), 0);
});

test('a task\'s page shows its state history, progress and result', options, async () => {
  const submitted = await fetch(`${base}/api/tasks/resize`, {
    method: 'POST', headers: { ...GUEST, 'content-type': 'application/json' }, body: JSON.stringify({ payload: { width: 200 } }),
  });
  assert.equal(submitted.status, 202);
  const { id } = (await submitted.json()) as { id: string };
  const finished = (await (await fetch(`${base}/api/tasks/${id}?wait=20`, { headers: GUEST })).json()) as { state: string };
  assert.equal(finished.state, 'succeeded');
  const history = (await (await fetch(`${base}/api/tasks/${id}/history`, { headers: GUEST })).json()) as { kind: string; at: string }[];
  assert.deepEqual(history.map((entry) => entry.kind), ['queued', 'started', 'succeeded']);
  assert.match(history[0]?.at ?? '', /^\d{4}-\d\d-\d\dT/);
  assert.equal((await fetch(`${base}/api/tasks/no-such-task/history`, { headers: GUEST })).status, 404);

  await page.goto(`${base}/#/tasks`);
  await waitForText('#tasks-table tbody', new RegExp(id));
  await page.locator('#task-stats [data-task-name=resize] canvas').first().waitFor({ timeout: 10_000 });
  if (SCREENSHOTS_DIR !== undefined) {
    for (let index = 0; index < 30; index++) await submitTask('resize', { payload: { width: index } });
    await page.locator('#task-stats [data-task-name=resize] canvas[data-points="4"]').first().waitFor({ timeout: 20_000 });
    await page.goto(`${base}/#/tasks`);
    await page.locator('#task-stats [data-task-name=resize] canvas').first().waitFor({ timeout: 10_000 });
    await page.waitForTimeout(7000);
    await screenshot('tasks');
  }
  await page.click(`#tasks-table a:text-is("${id}")`);
  await waitForText('#task-state', /^succeeded$/);
  const kinds = await page.locator('#task-history tr[data-kind]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-kind')));
  assert.deepEqual(kinds, ['queued', 'started', 'succeeded']);
  await waitForText('#task-summary', /cat-200\.png/);
  await waitForText('#task-progress', /50%/);
  assert.equal(await page.locator('#retry-task').isDisabled(), true);
  assert.equal(await page.locator('#cancel-task').isDisabled(), true);
  await screenshot('task-detail');
});

test('a task without a worker shows why it waits and is cancelled from its page; a dead one is retried', options, async () => {
  const waiting = await submitTask('ui-unhandled', { payload: null });
  await page.goto(`${base}/#/tasks/${waiting}`);
  await waitForText('#blocked-reason', /no worker consumes this task name/);
  await page.click('#cancel-task');
  await waitForText('#task-state', /^cancelled$/);

  const failing = await submitTask('resize', { payload: { width: -1 }, options: { attempts: 1 } });
  await page.goto(`${base}/#/tasks/${failing}`);
  await waitForText('#task-state', /^dead$/);
  await waitForText('#task-summary', /negative width/);
  await page.click('#retry-task');
  // The new run fails as well: its events follow the first run's.
  const deadTwice = async (): Promise<boolean> => (await page.locator('#task-history tr[data-kind=dead]').count()) === 2;
  for (const deadline = Date.now() + 10_000; !(await deadTwice()); await new Promise((resolve) => setTimeout(resolve, 100))) {
    assert.ok(Date.now() < deadline, 'the retried run never showed up in the history');
  }
});

test('a user the tags refuse a page to stays logged in; a user without management tags cannot log in', options, async () => {
  await putJson('/api/users/ui-watcher', { password: 'watch', tags: 'monitoring' });
  await putJson('/api/users/ui-plain', { password: 'plain', tags: '' });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const other = await context.newPage();
  try {
    await other.goto(`${base}/`);
    await other.fill('#login input[name=username]', 'ui-plain');
    await other.fill('#login input[name=password]', 'plain');
    await other.click('#login button[type=submit]');
    await waitForText('#login .status', /none of the tags/, 10_000, other);
    await other.fill('#login input[name=username]', 'ui-watcher');
    await other.fill('#login input[name=password]', 'watch');
    await other.click('#login button[type=submit]');
    await other.locator('#object-totals .total').first().waitFor();
    await other.goto(`${base}/#/access`);
    await waitForText('#users-table .error', /Not administrator/, 10_000, other);
    assert.equal(await other.locator('#login').count(), 0);
    await waitForText('#whoami', /ui-watcher/, 10_000, other);
  } finally {
    await context.close();
  }
});

test('a binding is added and removed on an exchange\'s page', options, async () => {
  await page.goto(`${base}/#/exchanges/%2F/amq.direct`);
  await page.fill('#add-binding input[name=destination]', 'ui-orders');
  await page.fill('#add-binding input[name=routing_key]', 'orders.new');
  await page.click('#add-binding button[type=submit]');
  await waitForText('#exchange-bindings tbody', /ui-orders.*orders\.new/);
  const bound = (await (await fetch(`${base}/api/exchanges/%2F/amq.direct/bindings/source`, { headers: GUEST })).json()) as { routing_key: string }[];
  assert.deepEqual(bound.map((binding) => binding.routing_key), ['orders.new']);
  await page.click('#exchange-bindings button:text-is("Unbind")');
  await waitForText('#exchange-bindings tbody', /nothing here/);
});

test('a connection is closed from the connections page', options, async () => {
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
  const closed = new Promise<void>((resolve) => connection.on('close', () => resolve()));
  connection.on('error', () => {});
  const localPort = (connection as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort;
  await page.goto(`${base}/#/connections`);
  await page.fill('[data-filter-for=connections-table]', `127.0.0.1:${localPort} ->`);
  await waitForText('[data-summary-for=connections-table]', /1 matching of/);
  await page.click('#connections-table button:text-is("Close")');
  await closed;
});

test('the other pages render without errors', options, async () => {
  for (const [hash, selector] of [
    ['#/exchanges', '#exchanges-table tbody tr'], ['#/exchanges/%2F/amq.direct', '#exchange-bindings tbody tr'],
    ['#/connections', '#connections-table tbody tr'], ['#/access', '#users-table tbody tr'], ['#/policies', '#policies-table tbody tr'],
  ] as const) {
    await page.goto(`${base}/${hash}`);
    await page.locator(selector).first().waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('main .error').count(), 0, `${hash} shows an error`);
  }
  assert.deepEqual(pageErrors, []);
});
