/**
 * Browsing a queue's messages without consuming them: GET /api/queues/{vhost}/{name}/messages
 * ?state=ready|unacked|delayed&offset=&limit= answering { items }. Nodes without that route answer
 * 404, and the section then says browsing is unavailable. Items are shown as the server sends them.
 */
import { ApiError, errorMessage, getJson } from '../api.js';
import { el, jsonBlock, replaceChildren, section } from '../dom.js';
import { formatNumber } from '../format.js';

const PAGE_SIZE = 20;
const STATES = ['ready', 'unacked', 'delayed'];

/** The browse section of a queue page (`queuePath` is `/api/queues/{vhost}/{name}`). */
export function browseSection(queuePath: string): HTMLElement {
  let offset = 0;
  const results = el('div', { id: 'browse-results' });
  const state = el('select', { name: 'state', 'aria-label': 'message state' }, ...STATES.map((choice) => el('option', { value: choice }, choice)));
  const show = el('button', { type: 'button', id: 'browse-messages' }, 'Browse');
  const previous = el('button', { type: 'button', disabled: true }, '‹ previous');
  const next = el('button', { type: 'button', disabled: true }, 'next ›');

  const load = async (): Promise<void> => {
    const query = new URLSearchParams({ state: state.value, offset: String(offset), limit: String(PAGE_SIZE) });
    try {
      const answer = await getJson<{ items: unknown[] }>(`${queuePath}/messages?${query.toString()}`);
      previous.disabled = offset === 0;
      next.disabled = answer.items.length < PAGE_SIZE;
      replaceChildren(results, answer.items.length === 0
        ? el('p', { class: 'muted' }, `no ${state.value} messages from position ${formatNumber(offset)}`)
        : el('ol', { class: 'browsed', start: offset + 1 }, ...answer.items.map((item) => el('li', {}, jsonBlock(item)))));
    } catch (error) {
      const unavailable = error instanceof ApiError && error.status === 404;
      replaceChildren(results, el('p', { class: unavailable ? 'muted' : 'error', id: unavailable ? 'browse-unavailable' : undefined },
        unavailable ? 'Browsing messages is unavailable on this node (no messages route).' : errorMessage(error)));
    }
  };
  show.addEventListener('click', () => {
    offset = 0;
    void load();
  });
  previous.addEventListener('click', () => {
    offset = Math.max(0, offset - PAGE_SIZE);
    void load();
  });
  next.addEventListener('click', () => {
    offset += PAGE_SIZE;
    void load();
  });
  return section('Browse messages (without consuming them)', el('div', { class: 'actions' }, state, show, previous, next), results);
}
