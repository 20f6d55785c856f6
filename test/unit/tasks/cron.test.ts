/**
 * Slots of cron schedules (src/tasks/cron.ts, schedule.ts): five fields only, read in an IANA time
 * zone, the latest slot inclusive and the next one exclusive, once a day across both DST changes, and
 * definitions checked with clear errors; runAt (run-at.ts) becomes a delay.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertCronExpression, latestSlotAtOrBefore, nextSlotAfter } from '../../../src/tasks/cron.js';
import { withRunAt } from '../../../src/tasks/run-at.js';
import { scheduleDefinition } from '../../../src/tasks/schedule.js';
import { TaskValidationError } from '../../../src/tasks/task-errors.js';

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

test('the latest slot includes the instant itself; the next one is strictly after it', () => {
  const five = Date.UTC(2026, 0, 1, 0, 5);
  assert.equal(iso(latestSlotAtOrBefore('*/5 * * * *', 'UTC', five)), '2026-01-01T00:05:00.000Z');
  assert.equal(iso(latestSlotAtOrBefore('*/5 * * * *', 'UTC', five - 1)), '2026-01-01T00:00:00.000Z');
  assert.equal(iso(nextSlotAfter('*/5 * * * *', 'UTC', five)), '2026-01-01T00:10:00.000Z');
  assert.equal(iso(nextSlotAfter('*/5 * * * *', 'UTC', five - 1)), '2026-01-01T00:05:00.000Z');
});

test('the expression is read in its time zone, half-hour offsets included', () => {
  const start = Date.UTC(2026, 0, 1);
  assert.equal(iso(nextSlotAfter('0 9 * * *', 'Europe/Berlin', start)), '2026-01-01T08:00:00.000Z');
  assert.equal(iso(nextSlotAfter('0 9 * * *', 'America/New_York', start)), '2026-01-01T14:00:00.000Z');
  assert.equal(iso(nextSlotAfter('0 * * * *', 'Asia/Kolkata', start)), '2026-01-01T00:30:00.000Z');
  assert.equal(iso(nextSlotAfter('0 9 * * 1', 'UTC', start)), '2026-01-05T09:00:00.000Z', 'the first Monday');
});

test('a daily slot fires once a day across both DST changes (a skipped local time runs an hour later)', () => {
  const slots = (from: number): string[] => {
    const found: string[] = [];
    let at = from;
    for (let day = 0; day < 3; day++) {
      at = nextSlotAfter('30 2 * * *', 'Europe/Berlin', at) ?? assert.fail('no slot');
      found.push(new Date(at).toISOString());
    }
    return found;
  };
  assert.deepEqual(slots(Date.UTC(2026, 2, 28, 12)), ['2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z']);
  assert.deepEqual(slots(Date.UTC(2026, 9, 24, 12)), ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z', '2026-10-27T01:30:00.000Z']);
});

test('expressions other than five valid fields are refused; stored garbage has no slots rather than throwing', () => {
  for (const cron of ['', '* * * *', '0 * * * * *', '61 * * * *', '* 24 * * *', 'every minute', '0 0 31 2 *', 5, null]) {
    assert.throws(() => assertCronExpression(cron, 'UTC'), TaskValidationError, JSON.stringify(cron));
  }
  assertCronExpression('0 9 * * mon-fri', 'UTC');
  assertCronExpression('*/15 8-18 1,15 jan-jun *', 'UTC');
  assert.equal(nextSlotAfter('nonsense', 'UTC', 0), undefined);
  assert.equal(latestSlotAtOrBefore('* * * * *', 'Not/AZone', 0), undefined);
});

test('scheduleDefinition checks every field and fills in defaults', () => {
  const definition = scheduleDefinition('nightly', 'report', ' 0 3 * * * ', { a: 1 }, { options: { attempts: 3 } });
  assert.equal(definition.cron, '0 3 * * *');
  assert.equal(definition.tz, 'UTC');
  assert.equal(definition.options.attempts, 3);
  assert.equal(definition.options.delayMs, 0);
  const refused = (call: () => unknown, what: string): void => assert.throws(call, TaskValidationError, what);
  refused(() => scheduleDefinition('', 'report', '* * * * *', null), 'empty id');
  refused(() => scheduleDefinition('id', 'bad name', '* * * * *', null), 'task name');
  refused(() => scheduleDefinition('id', 'report', '* * * * *', null, { tz: 'Mars/Base' }), 'time zone');
  refused(() => scheduleDefinition('id', 'report', '* * * * *', null, { options: { priority: 10 } }), 'priority');
  refused(() => scheduleDefinition('id', 'report', '* * * * *', () => 1), 'payload');
});

test('runAt becomes the delay until then; past times run at once; both runAt and delayMs are refused', () => {
  const now = Date.UTC(2026, 0, 1);
  assert.deepEqual(withRunAt({ runAt: now + 1500, priority: 2 }, now), { priority: 2, delayMs: 1500 });
  assert.deepEqual(withRunAt({ runAt: '2026-01-01T00:00:02.000Z' }, now), { delayMs: 2000 });
  assert.deepEqual(withRunAt({ runAt: new Date(now - 5000) }, now), { delayMs: 0 });
  assert.deepEqual(withRunAt({ delayMs: 7 }, now), { delayMs: 7 });
  assert.throws(() => withRunAt({ runAt: now + 1, delayMs: 1 }, now), /not both/);
  for (const runAt of ['tomorrow', Number.NaN, -1, now + 3_000_000_000]) {
    assert.throws(() => withRunAt({ runAt }, now), TaskValidationError, String(runAt));
  }
});
