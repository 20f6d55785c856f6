/**
 * Browsing a queue's messages without consuming them: GET /api/queues/{vhost}/{name}/messages
 * ?state=ready|unacked|delayed&offset=&limit= answering { items }. Each message shows its routing,
 * payload preview and properties; a ready one can be deleted and an unacknowledged one taken back from
 * its consumer (requeued). Nodes without that route answer 404, and the section says browsing is
 * unavailable.
 */
import { ApiError, callApi, errorMessage, getJson } from '../api.js';
import { el, facts, jsonBlock, replaceChildren, section } from '../dom.js';
import { actionButton } from '../forms.js';
import { formatFlag, formatNumber } from '../format.js';

/** A browsed message, as the messages route answers it. */
interface BrowsedMessage {
  id: string;
  state: string;
  exchange: string;
  routing_key: string;
  properties: Record<string, unknown>;
  payload: string;
  payload_encoding: string;
  payload_bytes: number;
  payload_truncated: boolean;
  redelivered: boolean;
  delivery_count: number;
  connection?: string;
  channel?: number;
  consumer_tag?: string;
  held_ms?: number;
  due_in_ms?: number;
}

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
      const answer = await getJson<{ items: BrowsedMessage[] }>(`${queuePath}/messages?${query.toString()}`);
      previous.disabled = offset === 0;
      next.disabled = answer.items.length < PAGE_SIZE;
      replaceChildren(results, answer.items.length === 0
        ? el('p', { class: 'muted' }, `no ${state.value} messages from position ${formatNumber(offset)}`)
        : el('ol', { class: 'browsed', start: offset + 1 }, ...answer.items.map((item) => el('li', {}, browsedMessage(queuePath, item, load)))));
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

/** One browsed message: its facts, its payload preview, and the action its state allows. */
function browsedMessage(queuePath: string, message: BrowsedMessage, reload: () => Promise<void>): HTMLElement {
  const status = el('span', { class: 'status', role: 'status' });
  const messagePath = `${queuePath}/messages/${encodeURIComponent(message.id)}`;
  const action = message.state === 'ready'
    ? actionButton('Delete', async () => {
      await callApi('DELETE', messagePath);
      await reload();
    }, { question: `Delete message ${message.id}?`, status, danger: true })
    : message.state === 'unacked'
      ? actionButton('Requeue', async () => {
        await callApi('POST', `${messagePath}/requeue`);
        await reload();
      }, { question: `Take message ${message.id} back from its consumer and requeue it?`, status })
      : undefined;
  if (action !== undefined) action.dataset['messageAction'] = message.id;
  const holder: [string, string][] = message.connection === undefined ? [] : [
    ['Held by', `${message.connection} (channel ${message.channel ?? '?'}${message.consumer_tag === undefined ? ', basic.get' : `, ${message.consumer_tag}`})`],
    ['Held for', `${formatNumber(Math.round((message.held_ms ?? 0) / 1000))} s`],
  ];
  const due: [string, string][] = message.due_in_ms === undefined ? [] : [['Due in', `${formatNumber(Math.round(message.due_in_ms / 1000))} s`]];
  return el('article', { class: 'message', 'data-message-id': message.id },
    el('h3', {}, `Message ${message.id}`),
    facts([
      ['Exchange', message.exchange === '' ? '(default)' : message.exchange], ['Routing key', message.routing_key],
      ['Redelivered', formatFlag(message.redelivered)], ['Delivery count', formatNumber(message.delivery_count)],
      ...holder, ...due,
      ['Properties', jsonBlock(message.properties)],
      ['Payload', `${formatNumber(message.payload_bytes)} bytes, ${message.payload_encoding}${message.payload_truncated ? ', preview' : ''}`],
    ]),
    el('pre', { class: 'payload' }, message.payload),
    el('div', { class: 'actions' }, ...(action === undefined ? [] : [action]), status));
}
