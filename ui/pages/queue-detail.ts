/**
 * One queue: its counts (refreshed), publish a message to it (through the default exchange), get
 * messages (requeued), browse without consuming (browse.ts), move messages to another queue, purge,
 * delete, and its bindings.
 */
import { apiPath, callApi, getJson } from '../api.js';
import { el, facts, jsonBlock, pageHash, replaceChildren, section } from '../dom.js';
import { actionButton, actionForm } from '../forms.js';
import { formatBytes, formatFlag, formatNumber } from '../format.js';
import { pagedTable } from '../paged-table.js';
import { every, type Page } from '../page.js';
import { browseSection } from './browse.js';
import type { QueueItem } from './queues.js';

/** A message as POST .../get answers it. */
interface GotMessage {
  payload: string;
  payload_encoding: string;
  payload_bytes: number;
  redelivered: boolean;
  exchange: string;
  routing_key: string;
  message_count: number;
  properties: Record<string, unknown>;
}

interface BindingItem {
  source: string;
  routing_key: string;
  arguments: Record<string, unknown>;
}

const ACK_MODES = ['ack_requeue_true', 'ack_requeue_false', 'reject_requeue_true', 'reject_requeue_false'];

/** The queue page. */
export const queueDetailPage: Page = async (root, { segments, signal }) => {
  const [vhost = '/', name = ''] = segments;
  const queuePath = apiPath('queues', vhost, name);
  const summary = el('div', { id: 'queue-summary' });
  const actionStatus = el('p', { class: 'status', role: 'status' });
  const refresh = async (): Promise<void> => {
    const queue = await getJson<QueueItem & { message_bytes: number; arguments: Record<string, unknown> }>(queuePath, signal);
    const count = (key: string, label: string, value: string): HTMLElement =>
      el('div', { class: 'total' }, el('span', { class: 'total-value', 'data-count': key }, value), el('span', { class: 'total-label' }, label));
    replaceChildren(summary,
      el('div', { class: 'totals' },
        count('ready', 'Ready', formatNumber(queue.messages_ready)), count('unacked', 'Unacked', formatNumber(queue.messages_unacknowledged)),
        count('total', 'Total', formatNumber(queue.messages)), count('bytes', 'Bytes', formatBytes(queue.message_bytes)),
        count('consumers', 'Consumers', formatNumber(queue.consumers))),
      el('p', { class: 'muted' }, `vhost ${queue.vhost} · ${queue.state} · durable ${formatFlag(queue.durable)} · auto-delete ${formatFlag(queue.auto_delete)}`,
        ` · exclusive ${formatFlag(queue.exclusive)}${queue.policy === undefined ? '' : ` · policy ${queue.policy}`} · arguments ${JSON.stringify(queue.arguments)}`));
  };
  const purge = actionButton('Purge', async () => {
    await callApi('DELETE', `${queuePath}/contents`);
    await refresh();
  }, { question: `Purge every ready message of '${name}'?`, status: actionStatus, danger: true });
  const remove = actionButton('Delete queue', async () => {
    await callApi('DELETE', queuePath);
    window.location.hash = pageHash(['queues']);
  }, { question: `Delete queue '${name}' and its messages?`, status: actionStatus, danger: true });
  purge.id = 'purge-queue';
  remove.id = 'delete-queue';

  replaceChildren(root,
    el('h1', {}, 'Queue ', el('span', { class: 'name' }, name)),
    summary, el('div', { class: 'actions' }, purge, remove), actionStatus,
    el('div', { class: 'columns' }, section('Publish a message', publishForm(vhost, name, refresh)), section('Get messages', ...getMessages(queuePath, refresh))),
    browseSection(queuePath),
    section('Move messages', moveForm(queuePath, refresh)),
    section('Bindings', bindingsTable(queuePath)));
  await refresh();
  every(3000, signal, refresh);
};

function publishForm(vhost: string, queue: string, refresh: () => Promise<void>): HTMLFormElement {
  return actionForm({
    id: 'publish-message', submitLabel: 'Publish',
    fields: [
      { name: 'routing_key', label: 'Routing key', value: queue },
      { name: 'payload', label: 'Payload', kind: 'textarea' },
      { name: 'persistent', label: 'Persistent (delivery mode 2)', kind: 'checkbox', checked: true },
      { name: 'headers', label: 'Headers (JSON object)', placeholder: '{"x-origin": "ui"}' },
    ],
    onSubmit: async (values) => {
      const headers = values.text('headers').trim();
      const properties: Record<string, unknown> = { delivery_mode: values.flag('persistent') ? 2 : 1 };
      if (headers !== '') properties['headers'] = JSON.parse(headers) as unknown;
      const answer = await callApi<{ routed: boolean }>('POST', `${apiPath('exchanges', vhost, 'amq.default')}/publish`, {
        body: { routing_key: values.text('routing_key'), payload: values.text('payload'), payload_encoding: 'string', properties },
      });
      await refresh();
      return answer.routed ? 'published (routed)' : 'published, but no queue took it (not routed)';
    },
  });
}

/** Moves ready messages to another queue of the vhost (all of them when the count is left empty). */
function moveForm(queuePath: string, refresh: () => Promise<void>): HTMLFormElement {
  return actionForm({
    id: 'move-messages', submitLabel: 'Move', inline: true,
    fields: [
      { name: 'destination', label: 'To queue' },
      { name: 'count', label: 'Count (empty: all)', kind: 'number' },
    ],
    onSubmit: async (values) => {
      const count = values.text('count').trim();
      const body: Record<string, unknown> = { destination: values.text('destination') };
      if (count !== '') body['count'] = Number(count);
      const answer = await callApi<{ moved: number }>('POST', `${queuePath}/move`, { body });
      await refresh();
      return `moved ${formatNumber(answer.moved)} message(s)`;
    },
  });
}

function getMessages(queuePath: string, refresh: () => Promise<void>): HTMLElement[] {
  const results = el('div', { id: 'got-messages' });
  const form = actionForm({
    id: 'get-messages', submitLabel: 'Get', inline: true,
    fields: [
      { name: 'count', label: 'Count', kind: 'number', value: '1' },
      { name: 'ackmode', label: 'Ack mode', kind: 'select', choices: ACK_MODES, value: 'ack_requeue_true' },
    ],
    onSubmit: async (values) => {
      const messages = await callApi<GotMessage[]>('POST', `${queuePath}/get`, {
        body: { count: Number(values.text('count')), ackmode: values.text('ackmode'), encoding: 'auto', truncate: 50_000 },
      });
      replaceChildren(results, ...messages.map(gotMessage));
      await refresh();
      return messages.length === 0 ? 'the queue is empty' : `${messages.length} message(s)`;
    },
  });
  return [form, results];
}

function gotMessage(message: GotMessage, index: number): HTMLElement {
  return el('article', { class: 'message' },
    el('h3', {}, `Message ${index + 1}`),
    facts([
      ['Exchange', message.exchange === '' ? '(default)' : message.exchange], ['Routing key', message.routing_key],
      ['Redelivered', formatFlag(message.redelivered)], ['Remaining', formatNumber(message.message_count)],
      ['Properties', jsonBlock(message.properties)], ['Payload', `${formatNumber(message.payload_bytes)} bytes, ${message.payload_encoding}`],
    ]),
    el('pre', { class: 'payload' }, message.payload));
}

function bindingsTable(queuePath: string): HTMLElement {
  return pagedTable<BindingItem>({
    id: 'queue-bindings', path: `${queuePath}/bindings`,
    columns: [
      { title: 'From exchange', cell: (binding) => binding.source === '' ? '(default)' : binding.source },
      { title: 'Routing key', cell: (binding) => binding.routing_key },
      { title: 'Arguments', cell: (binding) => jsonBlock(binding.arguments) },
    ],
  }).element;
}
