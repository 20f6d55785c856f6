/** Users, vhosts and permissions: paginated lists with add and delete (administrators only, as the API says). */
import { apiPath, callApi } from '../api.js';
import { el, replaceChildren, section } from '../dom.js';
import { actionButton, actionForm } from '../forms.js';
import { formatNumber } from '../format.js';
import { pagedTable, type PagedTable } from '../paged-table.js';
import { vhostNames, type Page } from '../page.js';

interface UserItem {
  name: string;
  tags: string[];
}

interface VhostItem {
  name: string;
  messages: number;
}

interface PermissionItem {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

/** The users, vhosts and permissions page. */
export const accessPage: Page = async (root) => {
  const status = el('p', { class: 'status', role: 'status' });
  const deleteButton = (label: string, path: string, table: () => PagedTable): HTMLButtonElement =>
    actionButton('Delete', async () => {
      await callApi('DELETE', path);
      await table().reload();
    }, { question: `Delete ${label}?`, status, danger: true });

  const users: PagedTable = pagedTable<UserItem>({
    id: 'users-table', path: '/api/users', filterable: true,
    columns: [
      { title: 'Name', cell: (user) => user.name },
      { title: 'Tags', cell: (user) => user.tags.join(', ') },
      { title: '', cell: (user) => deleteButton(`user '${user.name}'`, apiPath('users', user.name), () => users) },
    ],
  });
  const vhosts: PagedTable = pagedTable<VhostItem>({
    id: 'vhosts-table', path: '/api/vhosts', filterable: true,
    columns: [
      { title: 'Name', cell: (vhost) => vhost.name },
      { title: 'Messages', cell: (vhost) => formatNumber(vhost.messages), numeric: true },
      { title: '', cell: (vhost) => deleteButton(`vhost '${vhost.name}' and everything in it`, apiPath('vhosts', vhost.name), () => vhosts) },
    ],
  });
  const permissions: PagedTable = pagedTable<PermissionItem>({
    id: 'permissions-table', path: '/api/permissions',
    columns: [
      { title: 'User', cell: (permission) => permission.user },
      { title: 'Vhost', cell: (permission) => permission.vhost },
      { title: 'Configure', cell: (permission) => permission.configure },
      { title: 'Write', cell: (permission) => permission.write },
      { title: 'Read', cell: (permission) => permission.read },
      { title: '', cell: (permission) => deleteButton(`${permission.user}'s permissions on '${permission.vhost}'`, apiPath('permissions', permission.vhost, permission.user), () => permissions) },
    ],
  });

  const addUser = actionForm({
    id: 'create-user', submitLabel: 'Add user', inline: true,
    fields: [
      { name: 'name', label: 'Name', required: true },
      { name: 'password', label: 'Password', kind: 'password', required: true },
      { name: 'tags', label: 'Tags', placeholder: 'administrator, monitoring' },
    ],
    onSubmit: async (values) => {
      await callApi('PUT', apiPath('users', values.text('name')), { body: { password: values.text('password'), tags: values.text('tags') } });
      await users.reload();
      return `user '${values.text('name')}' saved`;
    },
  });
  const addVhost = actionForm({
    id: 'create-vhost', submitLabel: 'Add vhost', inline: true, fields: [{ name: 'name', label: 'Name', required: true }],
    onSubmit: async (values) => {
      await callApi('PUT', apiPath('vhosts', values.text('name')));
      await Promise.all([vhosts.reload(), permissions.reload()]);
      return `vhost '${values.text('name')}' added`;
    },
  });
  const setPermission = actionForm({
    id: 'set-permission', submitLabel: 'Set permission', inline: true,
    fields: [
      { name: 'user', label: 'User', required: true },
      { name: 'vhost', label: 'Vhost', kind: 'select', choices: await vhostNames(), value: '/' },
      { name: 'configure', label: 'Configure', value: '.*' },
      { name: 'write', label: 'Write', value: '.*' },
      { name: 'read', label: 'Read', value: '.*' },
    ],
    onSubmit: async (values) => {
      await callApi('PUT', apiPath('permissions', values.text('vhost'), values.text('user')), {
        body: { configure: values.text('configure'), write: values.text('write'), read: values.text('read') },
      });
      await permissions.reload();
      return 'permission set';
    },
  });
  replaceChildren(root, el('h1', {}, 'Users, vhosts and permissions'), status,
    section('Users', users.element, addUser), section('Virtual hosts', vhosts.element, addVhost),
    section('Permissions', permissions.element, setPermission));
};
