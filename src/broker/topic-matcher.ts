/**
 * A trie over dot-separated binding patterns, where `*` matches exactly one word and `#` matches
 * zero or more. Matching walks only the branches a routing key can reach, so the cost grows with
 * the key's length and the wildcards on its path, not with the number of bindings.
 */

/** Splits a key into words; like RabbitMQ, the empty key has no words at all (not one empty word). */
function splitWords(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

/** Collapses runs of `#` ("a.#.#.b" matches exactly what "a.#.b" matches) so the trie stays small. */
function normalizedWords(pattern: string): string[] {
  const all = splitWords(pattern);
  return all.filter((word, index) => !(word === '#' && all[index - 1] === '#'));
}

/** Where matching values go (a Set, or anything else that ignores a value added twice). */
export interface ValueCollector<T> {
  add(value: T): void;
}

let nextNodeId = 0;

class TopicNode<T> {
  readonly children = new Map<string, TopicNode<T>>();
  readonly values = new Set<T>();
  /** Identity for the visited set of one match. */
  readonly id = nextNodeId++;

  get isEmpty(): boolean {
    return this.values.size === 0 && this.children.size === 0;
  }
}

/** Maps topic patterns to values and finds the values whose pattern matches a routing key. */
export class TopicMatcher<T> {
  private readonly root = new TopicNode<T>();

  /** Adds a value under a pattern. */
  add(pattern: string, value: T): void {
    let node = this.root;
    for (const word of normalizedWords(pattern)) {
      let child = node.children.get(word);
      if (child === undefined) {
        child = new TopicNode<T>();
        node.children.set(word, child);
      }
      node = child;
    }
    node.values.add(value);
  }

  /** Removes a value from a pattern, pruning branches left empty. */
  remove(pattern: string, value: T): void {
    const words = normalizedWords(pattern);
    const path: TopicNode<T>[] = [this.root];
    let node = this.root;
    for (const word of words) {
      const child = node.children.get(word);
      if (child === undefined) return;
      path.push(child);
      node = child;
    }
    node.values.delete(value);
    for (let depth = words.length; depth > 0; depth--) {
      const current = path[depth] as TopicNode<T>;
      if (!current.isEmpty) break;
      (path[depth - 1] as TopicNode<T>).children.delete(words[depth - 1] as string);
    }
  }

  /** Adds to out every value whose pattern matches the routing key. */
  match(routingKey: string, out: ValueCollector<T>): void {
    this.walk(this.root, splitWords(routingKey), 0, out, undefined);
  }

  /**
   * `visited` remembers (node, position) pairs once a `#` is involved: several `#` in one pattern can
   * reach the same pair in exponentially many ways, and each pair needs walking only once.
   */
  private walk(node: TopicNode<T>, words: string[], index: number, out: ValueCollector<T>, visited: Set<number> | undefined): void {
    if (visited !== undefined) {
      const key = node.id * (words.length + 1) + index;
      if (visited.has(key)) return;
      visited.add(key);
    }
    const hash = node.children.get('#');
    if (hash !== undefined && hash.children.size === 0) {
      // A trailing `#` matches whatever words remain: no need to try each split (the usual "a.#" or "#").
      for (const value of hash.values) out.add(value);
    } else if (hash !== undefined) {
      const seen = visited ?? new Set<number>();
      // `#` may swallow zero or more of the remaining words.
      for (let next = index; next <= words.length; next++) this.walk(hash, words, next, out, seen);
      visited = seen;
    }
    if (index === words.length) {
      for (const value of node.values) out.add(value);
      return;
    }
    const word = words[index] as string;
    const exact = node.children.get(word);
    if (exact !== undefined) this.walk(exact, words, index + 1, out, visited);
    const star = node.children.get('*');
    if (star !== undefined) this.walk(star, words, index + 1, out, visited);
  }
}
