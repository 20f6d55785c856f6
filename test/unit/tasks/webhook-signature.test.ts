/**
 * Standard Webhooks signing and verification (src/tasks/webhooks/webhook-signature.ts) against the
 * standardwebhooks package as an independent implementation, the per-endpoint secrets, and the
 * signing key file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { endpointSecret, loadWebhookSigningKey, webhookEndpoint } from '../../../src/tasks/webhooks/webhook-endpoint.js';
import { signWebhook, verifyWebhook, webhookSignature } from '../../../src/tasks/webhooks/webhook-signature.js';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const BODY = '{"type":"task.succeeded","timestamp":"2026-11-26T00:00:00.000Z","data":{"id":"t1","result":42}}';
const NOW_SECONDS = Math.floor(Date.now() / 1000);

test('our signature is the one the standardwebhooks package makes', () => {
  const theirs = new Webhook(SECRET).sign('msg_1', new Date(NOW_SECONDS * 1000), BODY);
  assert.equal(webhookSignature(SECRET, 'msg_1', NOW_SECONDS, BODY), theirs);
  const headers = signWebhook(SECRET, 'msg_1', NOW_SECONDS, BODY);
  assert.deepEqual(new Webhook(SECRET).verify(BODY, { ...headers }), JSON.parse(BODY));
});

test('verifyWebhook accepts what standardwebhooks signs, with any header casing and among several signatures', () => {
  const signature = new Webhook(SECRET).sign('msg_2', new Date(NOW_SECONDS * 1000), BODY);
  const headers = { 'Webhook-Id': 'msg_2', 'Webhook-Timestamp': String(NOW_SECONDS), 'Webhook-Signature': `v1,AAAA ${signature}` };
  assert.deepEqual(verifyWebhook(SECRET, headers, BODY), JSON.parse(BODY));
  assert.deepEqual(verifyWebhook(SECRET, new Headers(headers), Buffer.from(BODY)), JSON.parse(BODY));
});

test('verifyWebhook refuses a changed body or id, another secret, a stale or future timestamp, missing headers', () => {
  const headers = signWebhook(SECRET, 'msg_3', NOW_SECONDS, BODY);
  const other = `whsec_${Buffer.alloc(32, 8).toString('base64')}`;
  assert.throws(() => verifyWebhook(SECRET, headers, BODY.replace('42', '43')), { name: 'WebhookVerificationError', problem: 'bad_signature' });
  assert.throws(() => verifyWebhook(SECRET, { ...headers, 'webhook-id': 'msg_4' }, BODY), { problem: 'bad_signature' });
  assert.throws(() => verifyWebhook(other, headers, BODY), { problem: 'bad_signature' });
  assert.throws(() => verifyWebhook(SECRET, { ...headers, 'webhook-signature': 'v1a,abc v2,xyz' }, BODY), { problem: 'bad_signature' });
  assert.throws(() => verifyWebhook(SECRET, headers, BODY, { nowMs: (NOW_SECONDS + 301) * 1000 }), { problem: 'timestamp_too_old' });
  assert.throws(() => verifyWebhook(SECRET, headers, BODY, { nowMs: (NOW_SECONDS - 301) * 1000 }), { problem: 'timestamp_too_new' });
  assert.ok(verifyWebhook(SECRET, headers, BODY, { nowMs: (NOW_SECONDS + 301) * 1000, toleranceSeconds: 600 }));
  assert.throws(() => verifyWebhook(SECRET, { ...headers, 'webhook-timestamp': '12abc' }, BODY), { problem: 'bad_timestamp' });
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
    const { [name]: _dropped, ...rest } = headers;
    assert.throws(() => verifyWebhook(SECRET, rest, BODY), { problem: 'missing_header', message: new RegExp(name) });
  }
  assert.throws(() => verifyWebhook('whsec_not base64!', headers, BODY), { problem: 'bad_secret' });
});

test('a signed body that is not JSON is refused after the signature checked out', () => {
  const headers = signWebhook(SECRET, 'msg_5', NOW_SECONDS, 'not json');
  assert.throws(() => verifyWebhook(SECRET, headers, 'not json'), { problem: 'bad_payload' });
});

test('one secret per endpoint: the query string and fragment do not count, the path does', () => {
  const key = Buffer.alloc(32, 1);
  const secret = endpointSecret(key, 'https://app.example/hooks/warren?order=1');
  assert.match(secret, /^whsec_/);
  assert.equal(Buffer.from(secret.slice(6), 'base64').length, 32);
  assert.equal(endpointSecret(key, 'https://APP.example:443/hooks/warren?order=2#x'), secret);
  assert.notEqual(endpointSecret(key, 'https://app.example/hooks/other'), secret);
  assert.notEqual(endpointSecret(key, 'http://app.example/hooks/warren'), secret);
  assert.notEqual(endpointSecret(Buffer.alloc(32, 2), 'https://app.example/hooks/warren'), secret);
  assert.equal(webhookEndpoint('https://app.example/hooks/warren?order=1'), 'https://app.example/hooks/warren');
});

test('the signing key file is created once with mode 0600 and read back; a broken one is refused', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'warren-signing-key-'));
  try {
    const path = join(directory, 'webhook-signing-key');
    const [created, ...concurrent] = await Promise.all(Array.from({ length: 8 }, () => loadWebhookSigningKey(path)));
    assert.ok(created !== undefined);
    assert.equal(created.length, 32);
    for (const other of concurrent) assert.deepEqual(other, created, 'loads racing the creation all read the one key');
    assert.deepEqual((await readdir(directory)).sort(), ['webhook-signing-key'], 'no temporary file is left behind');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await loadWebhookSigningKey(path), created);
    assert.equal((await readFile(path, 'utf8')).trim(), created.toString('base64'));
    await writeFile(path, 'short');
    await assert.rejects(loadWebhookSigningKey(path), /at least 24 bytes/);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
