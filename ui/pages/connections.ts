/** Connections (with a close button, DELETE /api/connections/{name}) and channels, both paginated by the server. */
import { apiPath, callApi } from '../api.js';
import { el, replaceChildren, section } from '../dom.js';
import { actionButton } from '../forms.js';
import { formatBytes, formatFlag, formatNumber, formatTime } from '../format.js';
import { pagedTable, type PagedTable } from '../paged-table.js';
import { every, LIST_REFRESH_MS, type Page } from '../page.js';

interface ConnectionItem {
  name: string;
  vhost: string;
  user: string;
  state: string;
  channels: number;
  connected_at: number;
  recv_oct: number;
  send_oct: number;
  client_properties: Record<string, unknown>;
}

interface ChannelItem {
  name: string;
  vhost: string;
  user: string;
  consumer_count: number;
  messages_unacknowledged: number;
  prefetch_count: number;
  confirm: boolean;
}

/** The connections page. */
export const connectionsPage: Page = (root, { signal }) => {
  const status = el('p', { class: 'status', role: 'status' });
  const connections: PagedTable = pagedTable<ConnectionItem>({
    id: 'connections-table', path: '/api/connections', filterable: true,
    columns: [
      { title: 'Name', cell: (connection) => connection.name },
      { title: 'Vhost', cell: (connection) => connection.vhost },
      { title: 'User', cell: (connection) => connection.user },
      { title: 'Client', cell: (connection) => clientName(connection.client_properties) },
      { title: 'Channels', cell: (connection) => formatNumber(connection.channels), numeric: true },
      { title: 'Received', cell: (connection) => formatBytes(connection.recv_oct), numeric: true },
      { title: 'Sent', cell: (connection) => formatBytes(connection.send_oct), numeric: true },
      { title: 'Since', cell: (connection) => formatTime(connection.connected_at) },
      { title: '', cell: (connection) => closeButton(connection.name, () => connections.reload(), status) },
    ],
  });
  const channels = pagedTable<ChannelItem>({
    id: 'channels-table', path: '/api/channels', filterable: true,
    columns: [
      { title: 'Channel', cell: (channel) => channel.name },
      { title: 'Vhost', cell: (channel) => channel.vhost },
      { title: 'User', cell: (channel) => channel.user },
      { title: 'Consumers', cell: (channel) => formatNumber(channel.consumer_count), numeric: true },
      { title: 'Unacked', cell: (channel) => formatNumber(channel.messages_unacknowledged), numeric: true },
      { title: 'Prefetch', cell: (channel) => formatNumber(channel.prefetch_count), numeric: true },
      { title: 'Confirm', cell: (channel) => formatFlag(channel.confirm) },
    ],
  });
  replaceChildren(root, el('h1', {}, 'Connections'), status, connections.element, section('Channels', channels.element));
  every(LIST_REFRESH_MS, signal, () => Promise.all([connections.reload(), channels.reload()]).then(() => undefined));
};

function closeButton(name: string, reload: () => Promise<void>, status: HTMLElement): HTMLButtonElement {
  return actionButton('Close', async () => {
    await callApi('DELETE', apiPath('connections', name), { headers: { 'x-reason': 'closed from the management UI' } });
    await reload();
  }, { question: `Close connection ${name}?`, status, danger: true });
}

function clientName(properties: Record<string, unknown>): string {
  const product = properties['product'];
  const version = properties['version'];
  return [typeof product === 'string' ? product : '', typeof version === 'string' ? version : ''].join(' ').trim();
}
