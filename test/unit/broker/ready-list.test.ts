/**
 * The ready list's browsing and removal by sequence: a page and a removal see the returned entries,
 * the in-memory window and the paged-out FIFO as one list in delivery order, and shift agrees.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Message, type QueueEntry } from '../../../src/broker/message.js';
import type { MessageLocation } from '../../../src/broker/ports.js';
import { ReadyList, type ReadyItem } from '../../../src/broker/ready-list.js';

const EMPTY_PROPERTIES = Buffer.from([0, 0]);

function entry(sequence: number): QueueEntry {
  return { message: new Message('', 'q', EMPTY_PROPERTIES, Buffer.from(String(sequence))), sequence, redelivered: false, expiresAt: 0, deliveryCount: 0 };
}

function sequenceOf(item: ReadyItem): number {
  return item.entry === undefined ? item.paged.sequence : item.entry.sequence;
}

test('page, remove and shift agree with a sorted array across returned, resident and paged-out entries', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), fc.array(fc.integer({ min: 0, max: 80 }), { maxLength: 30 }),
      fc.integer({ min: 0, max: 90 }), fc.integer({ min: 1, max: 20 }),
      (residentCount, pagedCount, removals, offset, limit) => {
        const list = new ReadyList(4);
        const model: number[] = [];
        let next = 0;
        // The first two resident entries are "delivered" and returned, so the returned part is exercised too.
        const delivered: QueueEntry[] = [];
        for (let i = 0; i < residentCount; i++, next++) {
          list.push(entry(next));
          model.push(next);
        }
        for (let i = 0; i < pagedCount; i++, next++) {
          list.pushPaged({ location: next as MessageLocation, sequence: next, expiresAt: 0, size: String(next).length, redelivered: false });
          model.push(next);
        }
        const pageIn = (paged: { sequence: number }): QueueEntry => entry(paged.sequence);
        for (let i = 0; i < 2 && list.length > 0; i++) delivered.push(list.shift(pageIn, 4) as QueueEntry);
        list.requeue(delivered);
        for (const sequence of removals) {
          const index = model.indexOf(sequence);
          const removed = list.remove(sequence);
          assert.equal(removed === undefined ? -1 : sequenceOf(removed), index < 0 ? -1 : sequence);
          if (index >= 0) model.splice(index, 1);
          assert.equal(list.length, model.length);
        }
        const page: ReadyItem[] = [];
        list.page(offset, limit, page);
        assert.deepEqual(page.map(sequenceOf), model.slice(offset, offset + limit));
        const shifted: number[] = [];
        for (let taken = list.shift(pageIn, 3); taken !== undefined; taken = list.shift(pageIn, 3)) shifted.push(taken.sequence);
        assert.deepEqual(shifted, model);
        assert.equal(list.bytes, 0);
      },
    ),
    { numRuns: 300 },
  );
});

test('requeues of any size, between shifts, put every entry back in sequence order', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }),
      // Each step: shift some entries, then give back a random subset of what is held (small and large batches).
      fc.array(fc.tuple(fc.integer({ min: 0, max: 25 }), fc.array(fc.boolean(), { maxLength: 60 })), { maxLength: 12 }),
      (count, steps) => {
        const list = new ReadyList(4);
        for (let sequence = 0; sequence < count; sequence++) list.push(entry(sequence));
        const pageIn = (paged: { sequence: number }): QueueEntry => entry(paged.sequence);
        let held: QueueEntry[] = [];
        for (const [shifts, giveBack] of steps) {
          for (let i = 0; i < shifts; i++) {
            const taken = list.shift(pageIn, 4);
            if (taken !== undefined) held.push(taken);
          }
          const returned = held.filter((_, i) => giveBack[i] === true);
          held = held.filter((_, i) => giveBack[i] !== true);
          list.requeue(returned);
        }
        const rest: number[] = [];
        for (let taken = list.shift(pageIn, 4); taken !== undefined; taken = list.shift(pageIn, 4)) rest.push(taken.sequence);
        const expected = Array.from({ length: count }, (_, sequence) => sequence).filter((sequence) => !held.some((e) => e.sequence === sequence));
        assert.deepEqual(rest, expected);
        assert.equal(list.bytes, 0);
      },
    ),
    { numRuns: 500 },
  );
});
