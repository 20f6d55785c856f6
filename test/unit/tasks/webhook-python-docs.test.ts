/**
 * The Python verifier printed in docs/webhooks.md works: it is taken from the page as written and
 * run with Debian's python3 on a delivery signed by the keeper's signing code, and refuses a tampered
 * one. In CI a missing python3 fails this file; elsewhere it is skipped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { signWebhook } from '../../../src/tasks/webhooks/webhook-signature.js';

const PYTHON = '/usr/bin/python3';
const inCi = (process.env['CI'] ?? '') !== '' && process.env['CI'] !== 'false';
const skip = !existsSync(PYTHON) && !inCi ? `${PYTHON} not found` : false;

/** The ```python block of docs/webhooks.md. */
function documentedVerifier(): string {
  const page = readFileSync(new URL('../../../docs/webhooks.md', import.meta.url), 'utf8');
  const block = /```python\n([\s\S]*?)```/.exec(page)?.[1];
  assert.ok(block !== undefined, 'docs/webhooks.md has a python block');
  return block;
}

/** Runs the documented verify_webhook on one request; its stdout is the parsed payload as JSON, or the error. */
function runVerifier(request: { secret: string; headers: Record<string, string>; body: string }): { code: number | null; output: string } {
  const driver = `${documentedVerifier()}
import sys
request = json.load(sys.stdin)
try:
    print(json.dumps(verify_webhook(request["secret"], request["headers"], request["body"].encode())))
except ValueError as error:
    print("refused:", error)
`;
  const result = spawnSync(PYTHON, ['-c', driver], { input: JSON.stringify(request), encoding: 'utf8' });
  assert.equal(result.stderr, '');
  return { code: result.status, output: result.stdout.trim() };
}

test('the Python verifier of docs/webhooks.md accepts a signed webhook and refuses a tampered one', { skip }, () => {
  const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
  const body = '{"type":"task.succeeded","data":{"id":"t1","result":"ünï ✓"}}';
  const headers = signWebhook(secret, 'msg_1', Math.floor(Date.now() / 1000), body);
  assert.deepEqual(JSON.parse(runVerifier({ secret, headers, body }).output), JSON.parse(body));
  assert.equal(runVerifier({ secret, headers, body: body.replace('t1', 't2') }).output, 'refused: no webhook-signature matches');
  const stale = signWebhook(secret, 'msg_1', Math.floor(Date.now() / 1000) - 600, body);
  assert.equal(runVerifier({ secret, headers: stale, body }).output, 'refused: webhook-timestamp is too far from now');
});
