/** Policies: the paginated list, a create form (definition as JSON) and delete. */
import { apiPath, callApi } from '../api.js';
import { el, jsonBlock, replaceChildren, section } from '../dom.js';
import { actionButton, actionForm } from '../forms.js';
import { pagedTable, type PagedTable } from '../paged-table.js';
import { vhostNames, type Page } from '../page.js';

interface PolicyItem {
  name: string;
  vhost: string;
  pattern: string;
  'apply-to': string;
  priority: number;
  definition: Record<string, unknown>;
}

/** The policies page. */
export const policiesPage: Page = async (root) => {
  const status = el('p', { class: 'status', role: 'status' });
  const table: PagedTable = pagedTable<PolicyItem>({
    id: 'policies-table', path: '/api/policies', filterable: true,
    columns: [
      { title: 'Name', cell: (policy) => policy.name },
      { title: 'Vhost', cell: (policy) => policy.vhost },
      { title: 'Pattern', cell: (policy) => policy.pattern },
      { title: 'Apply to', cell: (policy) => policy['apply-to'] },
      { title: 'Priority', cell: (policy) => String(policy.priority), numeric: true },
      { title: 'Definition', cell: (policy) => jsonBlock(policy.definition) },
      {
        title: '', cell: (policy) => actionButton('Delete', async () => {
          await callApi('DELETE', apiPath('policies', policy.vhost, policy.name));
          await table.reload();
        }, { question: `Delete policy '${policy.name}'?`, status, danger: true }),
      },
    ],
  });
  const create = actionForm({
    id: 'create-policy', submitLabel: 'Save policy',
    fields: [
      { name: 'vhost', label: 'Vhost', kind: 'select', choices: await vhostNames(), value: '/' },
      { name: 'name', label: 'Name', required: true },
      { name: 'pattern', label: 'Pattern (regular expression)', required: true, placeholder: '^orders\\.' },
      { name: 'apply-to', label: 'Apply to', kind: 'select', choices: ['all', 'queues', 'exchanges'] },
      { name: 'priority', label: 'Priority', kind: 'number', value: '0' },
      { name: 'definition', label: 'Definition (JSON)', kind: 'textarea', value: '{"max-length": 1000}' },
    ],
    onSubmit: async (values) => {
      const definition = JSON.parse(values.text('definition')) as unknown;
      await callApi('PUT', apiPath('policies', values.text('vhost'), values.text('name')), {
        body: { pattern: values.text('pattern'), 'apply-to': values.text('apply-to'), priority: Number(values.text('priority')), definition },
      });
      await table.reload();
      return `policy '${values.text('name')}' saved`;
    },
  });
  replaceChildren(root, el('h1', {}, 'Policies'), status, table.element, section('Add or change a policy', create));
};
