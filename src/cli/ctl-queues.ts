/**
 * `warren ctl queues` and `warren ctl exchanges`: list, declare, delete, and purge a queue, through
 * /api/queues and /api/exchanges.
 */
import { Option, type Command } from 'commander';
import { exchangeSegment, segment } from './ctl-client.js';
import { addVerb, argumentAt, confirm, parseJsonObject, verbAction } from './ctl-command.js';
import { addListVerb } from './ctl-list.js';

/** Options of `declare` shared by queues and exchanges. */
interface DeclareOptions {
  durable?: boolean;
  autoDelete?: boolean;
  arguments?: Record<string, unknown>;
}

function addDeclareOptions(verb: Command): Command {
  return verb
    .addOption(new Option('--durable', 'survives a restart (the default, as in RabbitMQ\'s API)'))
    .addOption(new Option('--no-durable', 'transient: gone after a restart'))
    .addOption(new Option('--auto-delete', 'deleted when its last consumer (queue) or binding (exchange) goes'))
    .addOption(new Option('--arguments <json>', 'x-arguments as a JSON object, e.g. \'{"x-max-length":100}\'').argParser(parseJsonObject));
}

function declareBody(options: DeclareOptions): Record<string, unknown> {
  return {
    ...(options.durable === undefined ? {} : { durable: options.durable }),
    ...(options.autoDelete === undefined ? {} : { auto_delete: options.autoDelete }),
    ...(options.arguments === undefined ? {} : { arguments: options.arguments }),
  };
}

/** Registers `queues`. */
export function registerQueues(ctl: Command): void {
  const queues = ctl.command('queues').alias('queue').description('queues: list, declare, delete, purge');
  addListVerb(queues, {
    allPath: '/api/queues', vhostPath: (vhost) => `/api/queues/${vhost}`, named: true,
    columns: ['name', 'messages_ready', 'messages_unacknowledged', 'consumers', 'durable'],
  });
  addDeclareOptions(addVerb(queues, 'declare', 'declare a queue (or check an existing one is equivalent)').argument('<name>', 'queue name'))
    .action(verbAction(async (context, verb) => {
      const name = argumentAt(verb, 0);
      await context.client.request('PUT', `/api/queues/${segment(context.vhost)}/${segment(name)}`, { body: declareBody(verb.opts<DeclareOptions>()) });
      confirm(context, `declared queue '${name}' in vhost '${context.vhost}'`);
    }));
  addVerb(queues, 'delete', 'delete a queue and its messages').argument('<name>', 'queue name')
    .addOption(new Option('--if-empty', 'only if it holds no messages'))
    .addOption(new Option('--if-unused', 'only if it has no consumers'))
    .action(verbAction(async (context, verb) => {
      const name = argumentAt(verb, 0);
      const options = verb.opts<{ ifEmpty?: boolean; ifUnused?: boolean }>();
      await context.client.request('DELETE', `/api/queues/${segment(context.vhost)}/${segment(name)}`, {
        query: { 'if-empty': options.ifEmpty, 'if-unused': options.ifUnused },
      });
      confirm(context, `deleted queue '${name}' in vhost '${context.vhost}'`);
    }));
  addVerb(queues, 'purge', 'remove every ready message from a queue').argument('<name>', 'queue name')
    .action(verbAction(async (context, verb) => {
      const name = argumentAt(verb, 0);
      await context.client.request('DELETE', `/api/queues/${segment(context.vhost)}/${segment(name)}/contents`);
      confirm(context, `purged queue '${name}' in vhost '${context.vhost}'`);
    }));
}

/** Registers `exchanges`. */
export function registerExchanges(ctl: Command): void {
  const exchanges = ctl.command('exchanges').alias('exchange').description('exchanges: list, declare, delete');
  addListVerb(exchanges, {
    allPath: '/api/exchanges', vhostPath: (vhost) => `/api/exchanges/${vhost}`, named: true,
    columns: ['name', 'type', 'durable', 'auto_delete', 'internal'],
  });
  addDeclareOptions(addVerb(exchanges, 'declare', 'declare an exchange (or check an existing one is equivalent)').argument('<name>', 'exchange name'))
    .addOption(new Option('--type <type>', 'direct, fanout, topic, headers or x-delayed-message').makeOptionMandatory())
    .addOption(new Option('--internal', 'only other exchanges may publish to it'))
    .action(verbAction(async (context, verb) => {
      const name = argumentAt(verb, 0);
      const options = verb.opts<DeclareOptions & { type: string; internal?: boolean }>();
      const body = { type: options.type, ...declareBody(options), ...(options.internal === undefined ? {} : { internal: options.internal }) };
      await context.client.request('PUT', `/api/exchanges/${segment(context.vhost)}/${segment(name)}`, { body });
      confirm(context, `declared exchange '${name}' in vhost '${context.vhost}'`);
    }));
  addVerb(exchanges, 'delete', 'delete an exchange and its bindings').argument('<name>', 'exchange name')
    .addOption(new Option('--if-unused', 'only if it has no bindings'))
    .action(verbAction(async (context, verb) => {
      const name = argumentAt(verb, 0);
      const options = verb.opts<{ ifUnused?: boolean }>();
      await context.client.request('DELETE', `/api/exchanges/${segment(context.vhost)}/${exchangeSegment(name)}`, { query: { 'if-unused': options.ifUnused } });
      confirm(context, `deleted exchange '${name}' in vhost '${context.vhost}'`);
    }));
}
