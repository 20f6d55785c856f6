/**
 * RabbitMQ's list parameters for every list endpoint: `sort` (a field, dotted for nested ones) and
 * `sort_reverse`, `columns` (which fields to keep), and pagination: with `page` the answer is a page
 * object (`items`, `page`, `page_count`, `page_size`, `filtered_count`, `item_count`, `total_count`),
 * filtered by `name` (a case-insensitive substring, or with `use_regex=true` a regular expression).
 */
import { HttpError } from '../errors.js';

/** Items per page when `page_size` is not given, and the most allowed (both RabbitMQ's). */
export const PAGE_SIZE_DEFAULT = 100;
export const PAGE_SIZE_MAX = 500;
/** Longest name filter accepted (a regular expression is compiled from it). */
const NAME_FILTER_MAX_LENGTH = 256;

/** The list parameters of a request's query string. */
export type ListQuery = Partial<Record<'page' | 'page_size' | 'name' | 'use_regex' | 'sort' | 'sort_reverse' | 'columns', string>>;

type Item = Record<string, unknown>;

/** Applies the list parameters to `items` (views already visible to the user). */
export function listAnswer(items: Item[], query: ListQuery): Item[] | Record<string, unknown> {
  const sorted = query.sort !== undefined && query.sort !== '' ? sortBy(items, query.sort, query.sort_reverse === 'true') : items;
  if (query.page === undefined) return project(sorted, query.columns);
  return pageAnswer(sorted, items.length, query, (item) => String(item['name'] ?? ''), (pageItems) => pageItems);
}

/**
 * {@link listAnswer} for objects whose views cost something to build (10,000 queues): a page that is
 * not sorted, or sorted by name, is filtered and cut from the objects themselves and only its own
 * items become views. Any other request builds every view and answers through listAnswer.
 */
export function listAnswerOf<T>(objects: readonly T[], nameOf: (object: T) => string, view: (object: T) => Item, query: ListQuery): Item[] | Record<string, unknown> {
  const sort = query.sort ?? '';
  if (query.page === undefined || (sort !== '' && sort !== 'name')) return listAnswer(objects.map(view), query);
  const direction = query.sort_reverse === 'true' ? -1 : 1;
  // The order listAnswer's sortBy gives names (a stable sort comparing strings with < and >).
  const sorted = sort === 'name'
    ? [...objects].sort((left, right) => direction * compareValues(nameOf(left), nameOf(right)))
    : objects;
  return pageAnswer(sorted, objects.length, query, nameOf, (pageObjects) => pageObjects.map(view));
}

/** The page object for `sorted` (already sorted; `totalCount` before filtering), views built by `views`. */
function pageAnswer<T>(
  sorted: readonly T[], totalCount: number, query: ListQuery, nameOf: (object: T) => string, views: (pageObjects: T[]) => Item[],
): Record<string, unknown> {
  const page = positiveInteger(query.page ?? '1', 'page');
  const pageSize = query.page_size === undefined ? PAGE_SIZE_DEFAULT : positiveInteger(query.page_size, 'page_size');
  if (pageSize > PAGE_SIZE_MAX) throw new HttpError(400, `page_size must be at most ${PAGE_SIZE_MAX}`);
  const filtered = filterByName(sorted, nameOf, query.name, query.use_regex === 'true');
  const pageCount = Math.max(1, Math.ceil(filtered.length / pageSize));
  if (page > pageCount) throw new HttpError(400, `page ${page} is past the last page (${pageCount})`);
  const pageItems = views(filtered.slice((page - 1) * pageSize, page * pageSize));
  return {
    filtered_count: filtered.length, item_count: pageItems.length, items: project(pageItems, query.columns),
    page, page_count: pageCount, page_size: pageSize, total_count: totalCount,
  };
}

function positiveInteger(text: string, name: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) throw new HttpError(400, `${name} must be a positive integer`);
  return value;
}

function filterByName<T>(items: readonly T[], nameOf: (item: T) => string, name: string | undefined, useRegex: boolean): readonly T[] {
  if (name === undefined || name === '') return items;
  if (name.length > NAME_FILTER_MAX_LENGTH) throw new HttpError(400, `name must be at most ${NAME_FILTER_MAX_LENGTH} characters`);
  let matches: (itemName: string) => boolean;
  if (useRegex) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(name, 'i');
    } catch {
      throw new HttpError(400, `name is not a valid regular expression: ${name}`);
    }
    matches = (itemName) => pattern.test(itemName);
  } else {
    const needle = name.toLowerCase();
    matches = (itemName) => itemName.toLowerCase().includes(needle);
  }
  return items.filter((item) => matches(nameOf(item)));
}

/** The value at a dotted path ('message_stats.publish'), or undefined. */
function valueAt(item: Item, path: readonly string[]): unknown {
  let value: unknown = item;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Item)[key];
  }
  return value;
}

function sortBy(items: Item[], field: string, reverse: boolean): Item[] {
  const path = field.split('.');
  const direction = reverse ? -1 : 1;
  return [...items].sort((left, right) => direction * compareValues(valueAt(left, path), valueAt(right, path)));
}

/** Numbers by value, everything else as text; missing values first. */
function compareValues(left: unknown, right: unknown): number {
  if (left === right) return 0;
  if (left === undefined) return -1;
  if (right === undefined) return 1;
  if (typeof left === 'number' && typeof right === 'number') return left - right;
  const leftText = typeof left === 'string' ? left : JSON.stringify(left);
  const rightText = typeof right === 'string' ? right : JSON.stringify(right);
  return leftText < rightText ? -1 : leftText > rightText ? 1 : 0;
}

/** Keeps only the listed columns (dotted paths keep the nested field under its parents). */
function project(items: Item[], columns: string | undefined): Item[] {
  if (columns === undefined || columns === '') return items;
  const paths = columns.split(',').filter((column) => column !== '').map((column) => column.split('.'));
  return items.map((item) => {
    const kept: Item = {};
    for (const path of paths) {
      const value = valueAt(item, path);
      if (value === undefined) continue;
      let target = kept;
      for (const key of path.slice(0, -1)) target = (target[key] ??= {}) as Item;
      target[path[path.length - 1] as string] = value;
    }
    return kept;
  });
}
