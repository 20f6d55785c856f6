/**
 * `warren ctl`'s table format (aligned columns, numbers right-aligned, nested values as compact JSON,
 * dotted column paths) and its mapping of HTTP statuses to exit codes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CTL_EXIT_CODES, exitCodeForStatus } from '../../../src/cli/ctl-errors.js';
import { cellText, formatRecord, formatTable } from '../../../src/cli/ctl-output.js';

test('a table aligns columns under a header, right-aligning numeric ones', () => {
  const table = formatTable([
    { name: 'orders', messages_ready: 1200, durable: true },
    { name: 'q', messages_ready: 7, durable: false },
  ], ['name', 'messages_ready', 'durable']);
  assert.equal(table, [
    'name    messages_ready  durable',
    'orders            1200  true',
    'q                    7  false',
    '',
  ].join('\n'));
});

test('dotted columns reach nested fields; missing ones are blank; an empty list is its header', () => {
  const table = formatTable([{ queue: { name: 'jobs' }, consumer_tag: 'c1' }, { consumer_tag: 'c2' }], ['queue.name', 'consumer_tag']);
  assert.equal(table, 'queue.name  consumer_tag\njobs        c1\n            c2\n');
  assert.equal(formatTable([], ['name', 'consumers']), 'name  consumers\n');
});

test('cells: nested values as compact JSON, line breaks flattened', () => {
  assert.equal(cellText({ 'x-max-length': 10 }), '{"x-max-length":10}');
  assert.equal(cellText(['administrator']), '["administrator"]');
  assert.equal(cellText(null), '');
  assert.equal(cellText('two\nlines'), 'two lines');
  assert.equal(formatRecord({ id: 't1', result: 49 }), 'field   value\nid      t1\nresult  49\n');
});

test('HTTP statuses map to the documented exit codes', () => {
  assert.equal(exitCodeForStatus(400), CTL_EXIT_CODES.refused);
  assert.equal(exitCodeForStatus(403), CTL_EXIT_CODES.refused);
  assert.equal(exitCodeForStatus(409), CTL_EXIT_CODES.refused);
  assert.equal(exitCodeForStatus(401), CTL_EXIT_CODES.authenticationFailed);
  assert.equal(exitCodeForStatus(404), CTL_EXIT_CODES.notFound);
  assert.equal(exitCodeForStatus(500), CTL_EXIT_CODES.serverError);
  assert.equal(exitCodeForStatus(503), CTL_EXIT_CODES.serverError);
  assert.deepEqual(Object.values(CTL_EXIT_CODES), [0, 1, 2, 3, 4, 5, 6]);
});
