/**
 * listAnswerOf (views built for the requested page only) answers exactly as listAnswer over every
 * view does, for every combination of paging, name filter, sort and columns.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpError } from '../../../src/http/errors.js';
import { listAnswer, listAnswerOf, type ListQuery } from '../../../src/http/management/listing.js';

interface Thing {
  readonly name: string;
  readonly size: number;
}

const things: Thing[] = ['b.2', 'a.1', 'C.3', 'a.1', 'other', 'b.10', 'z', 'A.0', 'm'].map((name, index) => ({ name, size: (index * 7) % 5 }));

function answer(run: () => unknown): unknown {
  try {
    return run();
  } catch (error) {
    if (error instanceof HttpError) return { status: error.statusCode, message: error.message };
    throw error;
  }
}

test('listAnswerOf equals listAnswer over all views', () => {
  let views = 0;
  const view = (thing: Thing): Record<string, unknown> => {
    views++;
    return { name: thing.name, size: thing.size, nested: { size: thing.size } };
  };
  const queries: ListQuery[] = [];
  for (const page of [undefined, '1', '2', '3', '9', '0', 'x']) {
    for (const pageSize of [undefined, '2', '4', '501']) {
      for (const name of [undefined, '', 'a', 'A.', '^b\\.', '(']) {
        for (const useRegex of [undefined, 'true']) {
          for (const sort of [undefined, '', 'name', 'size', 'nested.size']) {
            for (const reverse of [undefined, 'true']) {
              const query: ListQuery = {};
              if (page !== undefined) query.page = page;
              if (pageSize !== undefined) query.page_size = pageSize;
              if (name !== undefined) query.name = name;
              if (useRegex !== undefined) query.use_regex = useRegex;
              if (sort !== undefined) query.sort = sort;
              if (reverse !== undefined) query.sort_reverse = reverse;
              queries.push(query, { ...query, columns: 'name' });
            }
          }
        }
      }
    }
  }
  for (const query of queries) {
    const expected = answer(() => listAnswer(things.map(view), query));
    const actual = answer(() => listAnswerOf(things, (thing) => thing.name, view, query));
    assert.deepEqual(actual, expected, JSON.stringify(query));
  }
  views = 0;
  listAnswerOf(things, (thing) => thing.name, view, { page: '2', page_size: '2', sort: 'name' });
  assert.equal(views, 2, 'only the page is turned into views');
});
