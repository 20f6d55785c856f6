/**
 * Exchanges: the paginated list and a create form; `#/exchanges/{vhost}/{name}` shows one exchange's
 * bindings (to queues and exchanges), with forms to add and remove them.
 */
import { apiPath, callApi, getJson } from '../api.js';
import { el, facts, jsonBlock, pageHash, pageLink, replaceChildren, section } from '../dom.js';
import { actionButton, actionForm } from '../forms.js';
import { formatFlag } from '../format.js';
import { pagedTable, type PagedTable } from '../paged-table.js';
import { vhostNames, type Page } from '../page.js';

interface ExchangeItem {
  name: string;
  vhost: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: Record<string, unknown>;
  policy?: string;
}

interface BindingItem {
  source: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  properties_key: string;
  arguments: Record<string, unknown>;
}

const EXCHANGE_TYPES = ['direct', 'fanout', 'topic', 'headers', 'x-delayed-message'];

/** The exchanges page, or one exchange's page. */
export const exchangesPage: Page = async (root, context) => {
  const [vhost, name] = context.segments;
  if (vhost !== undefined && name !== undefined) return exchangeDetail(root, vhost, name);
  const table = pagedTable<ExchangeItem>({
    id: 'exchanges-table', path: '/api/exchanges', filterable: true, query: { sort: 'name' },
    columns: [
      { title: 'Name', cell: (exchange) => pageLink(exchange.name === '' ? '(AMQP default)' : exchange.name, ['exchanges', exchange.vhost, exchange.name === '' ? 'amq.default' : exchange.name]) },
      { title: 'Vhost', cell: (exchange) => exchange.vhost },
      { title: 'Type', cell: (exchange) => exchange.type },
      { title: 'Durable', cell: (exchange) => formatFlag(exchange.durable) },
      { title: 'Internal', cell: (exchange) => formatFlag(exchange.internal) },
      { title: 'Policy', cell: (exchange) => exchange.policy ?? '' },
    ],
  });
  const create = actionForm({
    id: 'create-exchange', submitLabel: 'Add exchange', inline: true,
    fields: [
      { name: 'vhost', label: 'Vhost', kind: 'select', choices: await vhostNames(), value: '/' },
      { name: 'name', label: 'Name', required: true },
      { name: 'type', label: 'Type', kind: 'select', choices: EXCHANGE_TYPES },
      { name: 'durable', label: 'Durable', kind: 'checkbox', checked: true },
    ],
    onSubmit: async (values) => {
      await callApi('PUT', apiPath('exchanges', values.text('vhost'), values.text('name')), { body: { type: values.text('type'), durable: values.flag('durable') } });
      await table.reload();
      return `exchange '${values.text('name')}' declared`;
    },
  });
  replaceChildren(root, el('h1', {}, 'Exchanges'), section('Add an exchange', create), table.element);
};

async function exchangeDetail(root: HTMLElement, vhost: string, name: string): Promise<void> {
  const exchangePath = apiPath('exchanges', vhost, name);
  const exchange = await getJson<ExchangeItem>(exchangePath);
  const status = el('p', { class: 'status', role: 'status' });
  const bindings: PagedTable = pagedTable<BindingItem>({
    id: 'exchange-bindings', path: `${exchangePath}/bindings/source`,
    columns: [
      { title: 'To', cell: (binding) => binding.destination_type === 'queue' ? pageLink(binding.destination, ['queues', vhost, binding.destination]) : binding.destination },
      { title: 'Kind', cell: (binding) => binding.destination_type },
      { title: 'Routing key', cell: (binding) => binding.routing_key },
      { title: 'Arguments', cell: (binding) => jsonBlock(binding.arguments) },
      { title: '', cell: (binding) => unbindButton(vhost, binding, () => bindings.reload(), status) },
    ],
  });
  const reload = (): Promise<void> => bindings.reload();
  const bind = actionForm({
    id: 'add-binding', submitLabel: 'Bind', inline: true,
    fields: [
      { name: 'destination_type', label: 'To', kind: 'select', choices: ['queue', 'exchange'] },
      { name: 'destination', label: 'Name', required: true },
      { name: 'routing_key', label: 'Routing key' },
    ],
    onSubmit: async (values) => {
      const kind = values.text('destination_type') === 'exchange' ? 'e' : 'q';
      await callApi('POST', apiPath('bindings', vhost, 'e', name, kind, values.text('destination')), { body: { routing_key: values.text('routing_key'), arguments: {} } });
      await reload();
      return 'bound';
    },
  });
  const remove = actionButton('Delete exchange', async () => {
    await callApi('DELETE', exchangePath);
    window.location.hash = pageHash(['exchanges']);
  }, { question: `Delete exchange '${name}'?`, status, danger: true });
  replaceChildren(root, el('h1', {}, 'Exchange ', el('span', { class: 'name' }, name)),
    facts([['Vhost', exchange.vhost], ['Type', exchange.type], ['Durable', formatFlag(exchange.durable)], ['Auto-delete', formatFlag(exchange.auto_delete)],
      ['Internal', formatFlag(exchange.internal)], ['Arguments', jsonBlock(exchange.arguments)]]),
    el('div', { class: 'actions' }, remove), status,
    section('Bindings from this exchange', bind, bindings.element));
}

function unbindButton(vhost: string, binding: BindingItem, reload: () => Promise<void>, status: HTMLElement): HTMLButtonElement {
  const kind = binding.destination_type === 'exchange' ? 'e' : 'q';
  return actionButton('Unbind', async () => {
    await callApi('DELETE', apiPath('bindings', vhost, 'e', binding.source, kind, binding.destination, binding.properties_key));
    await reload();
  }, { status });
}
