/**
 * `warren ctl bindings`: list, declare and delete bindings. A binding is named by its source
 * exchange, its destination (a queue, or an exchange with `--destination-type exchange`), its routing
 * key and, when several share those, its arguments; delete finds the API's properties key for it.
 */
import { Option, type Command } from 'commander';
import { exchangeSegment, segment } from './ctl-client.js';
import { addVerb, argumentAt, confirm, parseJsonObject, verbAction, type CtlContext } from './ctl-command.js';
import { CTL_EXIT_CODES, CtlError } from './ctl-errors.js';
import { addListVerb } from './ctl-list.js';

const DESTINATION_TYPES = ['queue', 'exchange'] as const;

interface BindingOptions {
  destinationType: (typeof DESTINATION_TYPES)[number];
  routingKey: string;
  arguments?: Record<string, unknown>;
}

/** JSON with every object's keys sorted, so equal arguments compare equal whatever their order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function bindingOptions(verb: Command): Command {
  return verb
    .argument('<source>', 'source exchange (\'\' for the default exchange)')
    .argument('<destination>', 'destination queue (or exchange)')
    .addOption(new Option('--destination-type <type>', 'what the destination is').choices(DESTINATION_TYPES).default('queue'))
    .addOption(new Option('--routing-key <key>', 'routing key (binding key)').default(''))
    .addOption(new Option('--arguments <json>', 'binding arguments as a JSON object (headers exchanges match on them)').argParser(parseJsonObject));
}

/** The API path of the bindings between a source and a destination. */
function pairPath(context: CtlContext, verb: Command, options: BindingOptions): string {
  const destination = argumentAt(verb, 1);
  const destinationPart = options.destinationType === 'queue' ? `q/${segment(destination)}` : `e/${exchangeSegment(destination)}`;
  return `/api/bindings/${segment(context.vhost)}/e/${exchangeSegment(argumentAt(verb, 0))}/${destinationPart}`;
}

function describe(verb: Command, options: BindingOptions): string {
  return `binding from '${argumentAt(verb, 0)}' to ${options.destinationType} '${argumentAt(verb, 1)}' with routing key '${options.routingKey}'`;
}

/** Registers `bindings`. */
export function registerBindings(ctl: Command): void {
  const bindings = ctl.command('bindings').alias('binding').description('bindings: list, declare, delete');
  addListVerb(bindings, {
    allPath: '/api/bindings', vhostPath: (vhost) => `/api/bindings/${vhost}`, named: false,
    columns: ['source', 'destination', 'destination_type', 'routing_key', 'arguments'],
  });
  bindingOptions(addVerb(bindings, 'declare', 'bind a queue or exchange to an exchange'))
    .action(verbAction(async (context, verb) => {
      const options = verb.opts<BindingOptions>();
      await context.client.request('POST', pairPath(context, verb, options), { body: { routing_key: options.routingKey, arguments: options.arguments ?? {} } });
      confirm(context, `declared ${describe(verb, options)} in vhost '${context.vhost}'`);
    }));
  bindingOptions(addVerb(bindings, 'delete', 'remove a binding'))
    .action(verbAction(async (context, verb) => {
      const options = verb.opts<BindingOptions>();
      const path = pairPath(context, verb, options);
      const matching = (await context.client.list(path)).filter((binding) => binding['routing_key'] === options.routingKey
        && (options.arguments === undefined || canonicalJson(binding['arguments']) === canonicalJson(options.arguments)));
      const [binding, ...others] = matching;
      if (binding === undefined) throw new CtlError(CTL_EXIT_CODES.notFound, `no ${describe(verb, options)} in vhost '${context.vhost}'`);
      if (others.length > 0) throw new CtlError(CTL_EXIT_CODES.usage, `${matching.length} bindings match, with different arguments: give --arguments to pick one`);
      await context.client.request('DELETE', `${path}/${segment(String(binding['properties_key']))}`);
      confirm(context, `deleted ${describe(verb, options)} in vhost '${context.vhost}'`);
    }));
}
