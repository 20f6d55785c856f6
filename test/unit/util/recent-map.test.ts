/** RecentMap (src/util/recent-map.ts) keeps what a Map bounded by dropping its first key would keep, in the same order. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentMap } from '../../../src/util/recent-map.js';

/** The naive bound RecentMap replaces. */
class ReferenceMap<K, V> {
  readonly entries = new Map<K, V>();
  constructor(private readonly capacity: number) {}
  set(key: K, value: V): void {
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }
}

test('sets, overwrites and deletes in any mix leave the same entries as the naive bound', () => {
  let seed = 7;
  const random = (below: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % below;
  };
  for (const capacity of [1, 3, 16]) {
    const recent = new RecentMap<number, number>(capacity);
    const reference = new ReferenceMap<number, number>(capacity);
    for (let step = 0; step < 5000; step++) {
      const key = random(capacity * 3);
      if (random(5) === 0) {
        assert.equal(recent.delete(key), reference.entries.delete(key));
      } else {
        recent.set(key, step);
        reference.set(key, step);
      }
      assert.equal(recent.size, reference.entries.size);
    }
    for (const [key, value] of reference.entries) assert.equal(recent.get(key), value);
    // The drop order is the same too: push fresh keys through and compare what remains at each step.
    for (let fresh = 1000; fresh < 1000 + capacity; fresh++) {
      recent.set(fresh, fresh);
      reference.set(fresh, fresh);
      for (const key of reference.entries.keys()) assert.ok(recent.has(key), `key ${key} kept`);
    }
  }
});

test('holds at most its capacity, newest kept', () => {
  const recent = new RecentMap<string, number>(100);
  for (let index = 0; index < 10_000; index++) recent.set(`k${index}`, index);
  assert.equal(recent.size, 100);
  assert.equal(recent.get('k9999'), 9999);
  assert.equal(recent.get('k9900'), 9900);
  assert.equal(recent.has('k9899'), false);
});
