/**
 * The `list` verb every noun has: which API path lists it, its default table columns, and the list
 * options (`--all-vhosts`, `--name`, `--regex`, `--sort`, `--sort-reverse`, `--columns`) passed on as
 * RabbitMQ's list parameters.
 */
import { Option, type Command } from 'commander';
import { segment } from './ctl-client.js';
import { addVerb, verbAction } from './ctl-command.js';
import { formatJson, formatTable, print } from './ctl-output.js';

/** How one noun is listed. */
export interface ListSpec {
  /** The API path listing every vhost's objects, or the only path for nouns that are not per vhost. */
  allPath: string;
  /** The API path listing one vhost's objects; absent for nouns that are not per vhost (vhosts, users). */
  vhostPath?: (vhost: string) => string;
  /** Table columns (dotted paths into each item). */
  columns: readonly string[];
  /** Whether the items have a `name` the server can filter on. */
  named: boolean;
  /** The field naming an item's vhost, shown first with --all-vhosts (default `vhost`). */
  vhostColumn?: string;
}

interface ListOptions {
  allVhosts?: boolean;
  name?: string;
  regex?: boolean;
  sort?: string;
  sortReverse?: boolean;
  columns?: string;
}

/** Adds `list` to a noun. */
export function addListVerb(noun: Command, spec: ListSpec): Command {
  const verb = addVerb(noun, 'list', `list ${noun.name()}`)
    .addOption(new Option('--sort <field>', 'sort by this field (dotted for nested ones)'))
    .addOption(new Option('--sort-reverse', 'sort in descending order'))
    .addOption(new Option('--columns <fields>', 'comma-separated fields to show (dotted for nested ones)'));
  if (spec.vhostPath !== undefined) verb.addOption(new Option('--all-vhosts', 'list every vhost\'s, not only --vhost\'s'));
  if (spec.named) {
    verb.addOption(new Option('--name <text>', 'only those whose name contains this text (case-insensitive)'));
    verb.addOption(new Option('--regex', '--name is a regular expression'));
  }
  return verb.action(verbAction(async (context, command) => {
    const options = command.opts<ListOptions>();
    const everyVhost = spec.vhostPath === undefined || options.allVhosts === true;
    const path = everyVhost || spec.vhostPath === undefined ? spec.allPath : spec.vhostPath(segment(context.vhost));
    const defaultColumns = spec.vhostPath !== undefined && everyVhost ? [spec.vhostColumn ?? 'vhost', ...spec.columns] : spec.columns;
    const columns = options.columns === undefined ? defaultColumns : options.columns.split(',').filter((column) => column !== '');
    const asked = options.columns !== undefined || context.format === 'table';
    const items = await context.client.list(path, {
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.regex === true ? { useRegex: true } : {}),
      ...(options.sort === undefined ? {} : { sort: options.sort }),
      ...(options.sortReverse === true ? { sortReverse: true } : {}),
      ...(asked ? { columns: columns.join(',') } : {}),
    });
    print(context.format === 'json' ? formatJson(items) : formatTable(items, columns));
  }));
}
