/**
 * Overview: object totals, and live charts of message rates (publish, deliver/get, ack: the server
 * samples its counters every 5 s) and queue depths (ready, unacknowledged), polled every 2 s.
 */
import { getJson } from '../api.js';
import { LiveChart } from '../chart.js';
import { el, facts, replaceChildren, section } from '../dom.js';
import { formatNumber, formatRate } from '../format.js';
import { every, type Page } from '../page.js';

/** The parts of /api/overview the page shows. */
interface Overview {
  product_name: string;
  product_version: string;
  node: string;
  object_totals: Record<string, number>;
  queue_totals: { messages: number; messages_ready: number; messages_unacknowledged: number };
  message_stats: Record<string, unknown>;
  listeners: { protocol: string; ip_address: string; port: number }[];
}

/** How often the page polls /api/overview. */
export const OVERVIEW_POLL_MS = 2000;

const TOTALS: [string, string][] = [
  ['connections', 'Connections'], ['channels', 'Channels'], ['exchanges', 'Exchanges'], ['queues', 'Queues'], ['consumers', 'Consumers'],
];

/** The overview page. */
export const overviewPage: Page = async (root, { signal }) => {
  const totals = el('div', { class: 'totals', id: 'object-totals' });
  const node = el('div', { id: 'node-info' });
  const rates = new LiveChart({
    title: 'Message rates (per second)', format: (value) => formatRate(value),
    series: [
      { key: 'publish', label: 'publish', color: '#2563eb' },
      { key: 'deliver_get', label: 'deliver / get', color: '#16a34a' },
      { key: 'ack', label: 'ack', color: '#d97706' },
    ],
  });
  const depths = new LiveChart({
    title: 'Queued messages', format: (value) => formatNumber(Math.round(value)),
    series: [
      { key: 'messages_ready', label: 'ready', color: '#7c3aed' },
      { key: 'messages_unacknowledged', label: 'unacknowledged', color: '#dc2626' },
    ],
  });
  rates.element.id = 'rates-chart';
  depths.element.id = 'depths-chart';
  signal.addEventListener('abort', () => {
    rates.dispose();
    depths.dispose();
  });
  replaceChildren(root, el('h1', {}, 'Overview'), totals, el('div', { class: 'charts' }, rates.element, depths.element), section('Node', node));

  const refresh = async (): Promise<void> => {
    const overview = await getJson<Overview>('/api/overview', signal);
    const stats = overview.message_stats;
    rates.push([rateOf(stats, 'publish'), rateOf(stats, 'deliver_get'), rateOf(stats, 'ack')]);
    depths.push([overview.queue_totals.messages_ready, overview.queue_totals.messages_unacknowledged]);
    replaceChildren(totals,
      ...TOTALS.map(([key, label]) => total(key, label, formatNumber(overview.object_totals[key]))),
      total('messages', 'Messages', formatNumber(overview.queue_totals.messages)),
      total('published', 'Published', formatNumber(stats['publish'])));
    replaceChildren(node, facts([
      ['Product', `${overview.product_name} ${overview.product_version}`],
      ['Node', overview.node],
      ['Listeners', overview.listeners.map((listener) => `${listener.protocol} ${listener.ip_address}:${listener.port}`).join(', ')],
    ]));
  };
  await refresh();
  every(OVERVIEW_POLL_MS, signal, refresh);
};

function total(key: string, label: string, value: string): HTMLElement {
  return el('div', { class: 'total', 'data-total': key }, el('span', { class: 'total-value' }, value), el('span', { class: 'total-label' }, label));
}

/** `name_details.rate` of message_stats (0 when absent). */
function rateOf(stats: Record<string, unknown>, name: string): number {
  const details = stats[`${name}_details`];
  if (typeof details === 'object' && details !== null && 'rate' in details && typeof details.rate === 'number') return details.rate;
  return 0;
}
