import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TopicMatcher } from '../../../src/broker/topic-matcher.js';

function matches(pattern: string, key: string): boolean {
  const matcher = new TopicMatcher<string>();
  matcher.add(pattern, 'x');
  const out = new Set<string>();
  matcher.match(key, out);
  return out.has('x');
}

/** A direct translation of RabbitMQ's topic semantics, used as the oracle for the trie. */
function reference(patternWords: string[], keyWords: string[]): boolean {
  if (patternWords.length === 0) return keyWords.length === 0;
  const [head, ...rest] = patternWords;
  if (head === '#') {
    for (let skip = 0; skip <= keyWords.length; skip++) if (reference(rest, keyWords.slice(skip))) return true;
    return false;
  }
  if (keyWords.length === 0) return false;
  return (head === '*' || head === keyWords[0]) && reference(rest, keyWords.slice(1));
}

test('topic patterns match as RabbitMQ documents', () => {
  const cases: [string, string, boolean][] = [
    ['a.b.c', 'a.b.c', true],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.c', false],
    ['a.#', 'a', true],
    ['a.#', 'a.b.c', true],
    ['#', '', true],
    ['#', 'a.b', true],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.x.y.c', false],
    ['*', '', false],
    ['', '', true],
    ['', 'a', false],
    ['*', 'a.b', false],
    ['*.*', 'a.', true],
    ['#.#', 'a', true],
    ['lazy.#', 'quick.orange.rabbit', false],
  ];
  for (const [pattern, key, expected] of cases) assert.equal(matches(pattern, key), expected, `${pattern} vs ${key}`);
});

test('the trie agrees with a reference matcher on random patterns and keys', () => {
  const word = fc.constantFrom('a', 'b', 'c', '');
  const patternWord = fc.constantFrom('a', 'b', '*', '#', '');
  fc.assert(
    fc.property(fc.array(patternWord, { minLength: 1, maxLength: 5 }), fc.array(word, { minLength: 1, maxLength: 5 }), (pattern, key) => {
      const patternKey = pattern.join('.');
      const routingKey = key.join('.');
      // The empty string has no words at all, as RabbitMQ splits it.
      const split = (text: string): string[] => (text === '' ? [] : text.split('.'));
      assert.equal(matches(patternKey, routingKey), reference(split(patternKey), split(routingKey)));
    }),
    { numRuns: 2000 },
  );
});

test('removing a binding prunes it from matches and keeps others', () => {
  const matcher = new TopicMatcher<string>();
  matcher.add('a.*', 'one');
  matcher.add('a.#', 'two');
  matcher.remove('a.*', 'one');
  const out = new Set<string>();
  matcher.match('a.b', out);
  assert.deepEqual([...out], ['two']);
  matcher.remove('a.#', 'two');
  out.clear();
  matcher.match('a.b', out);
  assert.equal(out.size, 0);
});
