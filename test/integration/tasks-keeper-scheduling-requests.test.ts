/**
 * Issue 6, the keeper requests of task-protocol.md section 8 on the wire (JSON in, JSON to reply_to):
 * claiming and releasing idempotency keys, and putting, listing and deleting schedules, as a client in
 * another language would send them; malformed ones are answered bad_request and the keeper goes on.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { openClient } from '../helpers/amqp.js';
import { nextMessage } from '../helpers/consumers.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { MemoryResultStore } from '../helpers/memory-result-store.js';
import { startTasksBroker } from '../helpers/tasks.js';
import { startKeeper } from '../../src/tasks/keeper.js';
import { KEEPER_REQUESTS_QUEUE } from '../../src/tasks/protocol.js';

test('keys and schedules over the wire; bad requests are refused with bad_request', { timeout: 30_000 }, async (t) => {
  const broker = await startTasksBroker(t);
  const store = new MemoryResultStore();
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const keeper = await startKeeper({ url: broker.url, store, clock });
  t.after(() => keeper.close());
  const ch = await (await openClient(t, broker.url)).confirmChannel();
  const { queue: replyTo } = await ch.assertQueue('', { exclusive: true });
  const ask = async (body: unknown): Promise<Record<string, unknown>> => {
    const correlationId = randomUUID();
    ch.sendToQueue(KEEPER_REQUESTS_QUEUE, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), { replyTo, correlationId, contentType: 'application/json' });
    await ch.waitForConfirms();
    const reply = await nextMessage(ch, replyTo);
    assert.equal(reply.properties.correlationId, correlationId);
    return JSON.parse(reply.content.toString()) as Record<string, unknown>;
  };

  const key = { name: 'charge', key: 'order-9' };
  assert.deepEqual(await ask({ op: 'claimIdempotencyKey', ...key, id: 'a' }), { ok: true, owner: { id: 'a', replayed: false } });
  assert.deepEqual(await ask({ op: 'claimIdempotencyKey', ...key, id: 'b' }), { ok: true, owner: { id: 'a', replayed: true } });
  assert.deepEqual(await ask({ op: 'releaseIdempotencyKey', ...key, id: 'b' }), { ok: true, removed: false });
  assert.deepEqual(await ask({ op: 'releaseIdempotencyKey', ...key, id: 'a' }), { ok: true, removed: true });
  assert.deepEqual(await ask({ op: 'claimIdempotencyKey', ...key, id: 'b' }), { ok: true, owner: { id: 'b', replayed: false } });

  const definition = { id: 'hourly', name: 'report', cron: '0 * * * *', tz: 'Asia/Kolkata', payload: { a: 1 }, options: { attempts: 2 } };
  const put = await ask({ op: 'putSchedule', schedule: definition });
  assert.equal(put['ok'], true);
  const schedule = put['schedule'] as Record<string, unknown>;
  assert.deepEqual([schedule['id'], schedule['tz'], schedule['createdAt'], (schedule['options'] as { attempts: number }).attempts], ['hourly', 'Asia/Kolkata', clock.now(), 2]);
  assert.deepEqual(((await ask({ op: 'listSchedules' }))['schedules'] as { id: string }[]).map((s) => s.id), ['hourly']);
  assert.deepEqual(await ask({ op: 'deleteSchedule', id: 'hourly' }), { ok: true, removed: true });
  assert.deepEqual(await ask({ op: 'deleteSchedule', id: 'hourly' }), { ok: true, removed: false });

  const malformed: unknown[] = [
    { op: 'claimIdempotencyKey', name: 'charge', key: '', id: 'a' },
    { op: 'claimIdempotencyKey', name: 'charge', key: 'k'.repeat(256), id: 'a' },
    { op: 'claimIdempotencyKey', name: 'bad name', key: 'k', id: 'a' },
    { op: 'claimIdempotencyKey', name: 'charge', key: 'k' },
    { op: 'releaseIdempotencyKey', name: 'charge', key: 7, id: 'a' },
    { op: 'putSchedule' },
    { op: 'putSchedule', schedule: 'hourly' },
    { op: 'putSchedule', schedule: { ...definition, cron: '0 * * *' } },
    { op: 'putSchedule', schedule: { ...definition, tz: 'Atlantis/Capital' } },
    { op: 'putSchedule', schedule: { ...definition, options: { attempts: 0 } } },
    { op: 'putSchedule', schedule: { ...definition, options: { replyTo: 'elsewhere' } } },
    { op: 'putSchedule', schedule: { ...definition, id: '' } },
    { op: 'deleteSchedule', id: 42 },
  ];
  for (const body of malformed) {
    const reply = await ask(body);
    assert.equal(reply['ok'], false, JSON.stringify(body));
    assert.equal((reply['error'] as { code: string }).code, 'bad_request', JSON.stringify(body));
  }
  assert.deepEqual(await ask({ op: 'listSchedules' }), { ok: true, schedules: [] }, 'the keeper still answers');
});
