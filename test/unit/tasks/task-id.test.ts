/** Task ids (src/tasks/task-id.ts): UUID v7, ordered by time, never repeated. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newTaskId } from '../../../src/tasks/task-id.js';

test('a task id is a lower-case UUID v7 whose first 48 bits are the millisecond timestamp', () => {
  const at = Date.UTC(2026, 10, 26, 4, 30, 0, 123);
  const id = newTaskId(at);
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), at);
});

test('ids of later milliseconds sort after earlier ones; ids never repeat', () => {
  const ids = Array.from({ length: 2000 }, (_, index) => newTaskId(1_700_000_000_000 + Math.floor(index / 10)));
  for (let index = 10; index < ids.length; index += 10) assert.ok((ids[index - 1] as string) < (ids[index] as string), `${ids[index - 1]} < ${ids[index]}`);
  assert.equal(new Set(ids).size, ids.length);
});

test('ids made in one millisecond, across many refills of the random pool, are all well-formed and distinct', () => {
  const at = Date.UTC(2026, 10, 27, 4, 0, 0, 0);
  const ids = Array.from({ length: 10_000 }, () => newTaskId(at));
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(ids).size, ids.length);
  // Every random character position takes more than one value (none is stuck at a constant).
  for (const position of [15, 16, 17, 19, 20, 21, 22, ...Array.from({ length: 12 }, (_, index) => 24 + index)]) {
    assert.ok(new Set(ids.map((id) => id[position])).size > 1, `position ${position} varies`);
  }
});
