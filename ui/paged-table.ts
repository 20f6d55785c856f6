/**
 * A table of one of the management API's lists, paginated by the server (`page`, `page_size`, and the
 * `name` filter): only one page is ever fetched, so a list of 10,000 queues costs what 100 cost.
 */
import { ApiError, errorMessage, getJson, type Page } from './api.js';
import { el, replaceChildren, type Child } from './dom.js';
import { formatNumber } from './format.js';

/** One column: its heading and how an item shows in it. */
export interface Column<T> {
  title: string;
  cell: (item: T) => Child;
  numeric?: boolean;
}

/** What a paged table lists and how. */
export interface PagedTableOptions<T> {
  /** The list's path, without query (`/api/queues`). */
  path: string;
  columns: Column<T>[];
  /** Offer the name filter (lists whose items have a `name`). */
  filterable?: boolean;
  pageSize?: number;
  /** Extra query parameters (sort, ...). */
  query?: Record<string, string>;
  /** The table's id (for tests and links). */
  id: string;
}

const PAGE_SIZES = ['20', '50', '100', '500'];

/** A paged table: `element` goes into the page; `reload` fetches the current page again. */
export interface PagedTable {
  element: HTMLElement;
  reload(): Promise<void>;
}

/** Builds a paged table and loads its first page. */
export function pagedTable<T>(options: PagedTableOptions<T>): PagedTable {
  let page = 1;
  let pageSize = options.pageSize ?? 20;
  let name = '';
  const body = el('tbody');
  const summary = el('span', { class: 'summary', 'data-summary-for': options.id });
  const previous = el('button', { type: 'button', class: 'previous' }, '‹ previous');
  const next = el('button', { type: 'button', class: 'next' }, 'next ›');
  const sizeSelect = el('select', { 'aria-label': 'page size' }, ...PAGE_SIZES.map((size) => el('option', { value: size, selected: Number(size) === pageSize }, size)));
  const filter = el('input', { type: 'search', placeholder: 'filter by name', 'aria-label': 'filter by name', class: 'filter', 'data-filter-for': options.id });
  const table = el('table', { id: options.id, class: 'list' },
    el('thead', {}, el('tr', {}, ...options.columns.map((column) => el('th', { class: column.numeric === true ? 'numeric' : undefined }, column.title)))),
    body);

  const reload = async (): Promise<void> => {
    const query = new URLSearchParams({ ...options.query, page: String(page), page_size: String(pageSize) });
    if (name !== '') query.set('name', name);
    try {
      const answer = await getJson<Page<T>>(`${options.path}?${query.toString()}`);
      renderRows(answer.items);
      replaceChildren(summary, `page ${answer.page} of ${answer.page_count} · ${formatNumber(answer.filtered_count)} matching of ${formatNumber(answer.total_count)}`);
      previous.disabled = answer.page <= 1;
      next.disabled = answer.page >= answer.page_count;
    } catch (error) {
      // The list shrank under the current page: start again from the first.
      if (error instanceof ApiError && error.status === 400 && page > 1) {
        page = 1;
        return reload();
      }
      replaceChildren(body, el('tr', {}, el('td', { colspan: options.columns.length, class: 'error' }, errorMessage(error))));
    }
  };
  const renderRows = (items: T[]): void => {
    if (items.length === 0) {
      replaceChildren(body, el('tr', {}, el('td', { colspan: options.columns.length, class: 'muted' }, 'nothing here')));
      return;
    }
    replaceChildren(body, ...items.map((item) =>
      el('tr', {}, ...options.columns.map((column) => el('td', { class: column.numeric === true ? 'numeric' : undefined }, column.cell(item))))));
  };

  previous.addEventListener('click', () => {
    page = Math.max(1, page - 1);
    void reload();
  });
  next.addEventListener('click', () => {
    page++;
    void reload();
  });
  sizeSelect.addEventListener('change', () => {
    pageSize = Number(sizeSelect.value);
    page = 1;
    void reload();
  });
  let filterTimer: number | undefined;
  filter.addEventListener('input', () => {
    window.clearTimeout(filterTimer);
    filterTimer = window.setTimeout(() => {
      name = filter.value;
      page = 1;
      void reload();
    }, 250);
  });

  const controls = el('div', { class: 'pager' }, options.filterable === true ? filter : null, previous, next, summary, el('label', {}, 'per page ', sizeSelect));
  void reload();
  return { element: el('div', { class: 'paged-table' }, controls, table), reload };
}
