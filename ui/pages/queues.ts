/** Queues: the paginated list with a name filter and a create form; `#/queues/{vhost}/{name}` shows one queue. */
import { apiPath, callApi } from '../api.js';
import { actionForm } from '../forms.js';
import { el, pageLink, replaceChildren, section } from '../dom.js';
import { formatNumber } from '../format.js';
import { pagedTable } from '../paged-table.js';
import { every, LIST_REFRESH_MS, vhostNames, type Page } from '../page.js';
import { queueDetailPage } from './queue-detail.js';

/** A queue as the list shows it. */
export interface QueueItem {
  name: string;
  vhost: string;
  durable: boolean;
  auto_delete: boolean;
  exclusive: boolean;
  state: string;
  messages: number;
  messages_ready: number;
  messages_unacknowledged: number;
  consumers: number;
  policy?: string;
}

/** The queues page, or one queue's page. */
export const queuesPage: Page = async (root, context) => {
  const [vhost, name] = context.segments;
  if (vhost !== undefined && name !== undefined) return queueDetailPage(root, context);
  const table = pagedTable<QueueItem>({
    id: 'queues-table', path: '/api/queues', filterable: true, query: { sort: 'name' },
    columns: [
      { title: 'Name', cell: (queue) => pageLink(queue.name, ['queues', queue.vhost, queue.name]) },
      { title: 'Vhost', cell: (queue) => queue.vhost },
      { title: 'Features', cell: (queue) => features(queue) },
      { title: 'Policy', cell: (queue) => queue.policy ?? '' },
      { title: 'Ready', cell: (queue) => formatNumber(queue.messages_ready), numeric: true },
      { title: 'Unacked', cell: (queue) => formatNumber(queue.messages_unacknowledged), numeric: true },
      { title: 'Total', cell: (queue) => formatNumber(queue.messages), numeric: true },
      { title: 'Consumers', cell: (queue) => formatNumber(queue.consumers), numeric: true },
    ],
  });
  const create = actionForm({
    id: 'create-queue', submitLabel: 'Add queue', inline: true,
    fields: [
      { name: 'vhost', label: 'Vhost', kind: 'select', choices: await vhostNames(), value: '/' },
      { name: 'name', label: 'Name', required: true },
      { name: 'durable', label: 'Durable', kind: 'checkbox', checked: true },
      { name: 'auto_delete', label: 'Auto-delete', kind: 'checkbox' },
    ],
    onSubmit: async (values) => {
      const queue = values.text('name');
      await callApi('PUT', apiPath('queues', values.text('vhost'), queue), { body: { durable: values.flag('durable'), auto_delete: values.flag('auto_delete') } });
      await table.reload();
      return `queue '${queue}' declared`;
    },
  });
  replaceChildren(root, el('h1', {}, 'Queues'), section('Add a queue', create), table.element);
  every(LIST_REFRESH_MS, context.signal, () => table.reload());
};

function features(queue: QueueItem): string {
  return [queue.durable ? 'D' : '', queue.auto_delete ? 'AD' : '', queue.exclusive ? 'Excl' : ''].filter((flag) => flag !== '').join(' ');
}
