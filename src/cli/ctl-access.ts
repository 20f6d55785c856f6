/**
 * `warren ctl vhosts`, `users`, `permissions` and `policies`: who may connect where and do what,
 * and the policies that set queue and exchange features by name pattern.
 */
import { Option, type Command } from 'commander';
import { segment } from './ctl-client.js';
import { addVerb, argumentAt, confirm, parseInteger, parseJsonObject, verbAction } from './ctl-command.js';
import { addListVerb } from './ctl-list.js';

const POLICY_APPLY_TO = ['all', 'queues', 'exchanges'] as const;
/** RabbitMQ's permission that allows everything, each permission's default. */
const ALLOW_EVERYTHING = '.*';

function registerVhosts(ctl: Command): void {
  const vhosts = ctl.command('vhosts').alias('vhost').description('virtual hosts: list, add, delete');
  addListVerb(vhosts, { allPath: '/api/vhosts', named: true, columns: ['name', 'messages', 'messages_ready', 'messages_unacknowledged'] });
  addVerb(vhosts, 'add', 'create a virtual host (you get full permissions on it)').argument('<name>', 'vhost name')
    .action(verbAction(async (context, verb) => {
      const name = argumentAt(verb, 0);
      await context.client.request('PUT', `/api/vhosts/${segment(name)}`);
      confirm(context, `added vhost '${name}'`);
    }));
  addVerb(vhosts, 'delete', 'delete a virtual host with everything in it').argument('<name>', 'vhost name')
    .action(verbAction(async (context, verb) => {
      const name = argumentAt(verb, 0);
      await context.client.request('DELETE', `/api/vhosts/${segment(name)}`);
      confirm(context, `deleted vhost '${name}'`);
    }));
}

function registerUsers(ctl: Command): void {
  const users = ctl.command('users').alias('user').description('users: list, add, delete');
  addListVerb(users, { allPath: '/api/users', named: true, columns: ['name', 'tags'] });
  addVerb(users, 'add', 'create a user, or change its password and tags', { ownPassword: true }).argument('<name>', 'user name')
    .addOption(new Option('--password <password>', 'the new user\'s password (log in with --password before the noun)').makeOptionMandatory())
    .addOption(new Option('--tags <tags>', 'comma-separated tags: administrator, monitoring, management, policymaker').default(''))
    .action(verbAction(async (context, verb) => {
      const name = argumentAt(verb, 0);
      const { password, tags } = verb.opts<{ password: string; tags: string }>();
      await context.client.request('PUT', `/api/users/${segment(name)}`, { body: { password, tags } });
      confirm(context, `added user '${name}'`);
    }));
  addVerb(users, 'delete', 'delete a user').argument('<name>', 'user name')
    .action(verbAction(async (context, verb) => {
      const name = argumentAt(verb, 0);
      await context.client.request('DELETE', `/api/users/${segment(name)}`);
      confirm(context, `deleted user '${name}'`);
    }));
}

function registerPermissions(ctl: Command): void {
  const permissions = ctl.command('permissions').alias('permission').description('a user\'s permissions on --vhost: list, set, clear');
  addListVerb(permissions, {
    allPath: '/api/permissions', vhostPath: (vhost) => `/api/vhosts/${vhost}/permissions`, named: false,
    columns: ['user', 'configure', 'write', 'read'],
  });
  addVerb(permissions, 'set', 'set a user\'s permissions on --vhost (regular expressions over resource names)').argument('<user>', 'user name')
    .addOption(new Option('--configure <regex>', 'resources the user may declare and delete').default(ALLOW_EVERYTHING))
    .addOption(new Option('--write <regex>', 'resources the user may publish to or bind to').default(ALLOW_EVERYTHING))
    .addOption(new Option('--read <regex>', 'resources the user may consume from or bind from').default(ALLOW_EVERYTHING))
    .action(verbAction(async (context, verb) => {
      const user = argumentAt(verb, 0);
      const { configure, write, read } = verb.opts<{ configure: string; write: string; read: string }>();
      await context.client.request('PUT', `/api/permissions/${segment(context.vhost)}/${segment(user)}`, { body: { configure, write, read } });
      confirm(context, `set permissions of user '${user}' on vhost '${context.vhost}'`);
    }));
  addVerb(permissions, 'clear', 'remove a user\'s permissions on --vhost').argument('<user>', 'user name')
    .action(verbAction(async (context, verb) => {
      const user = argumentAt(verb, 0);
      await context.client.request('DELETE', `/api/permissions/${segment(context.vhost)}/${segment(user)}`);
      confirm(context, `cleared permissions of user '${user}' on vhost '${context.vhost}'`);
    }));
}

function registerPolicies(ctl: Command): void {
  const policies = ctl.command('policies').alias('policy').description('policies on --vhost: list, set, clear');
  addListVerb(policies, {
    allPath: '/api/policies', vhostPath: (vhost) => `/api/policies/${vhost}`, named: true,
    columns: ['name', 'pattern', 'apply-to', 'priority', 'definition'],
  });
  addVerb(policies, 'set', 'create or replace a policy')
    .argument('<name>', 'policy name')
    .argument('<pattern>', 'regular expression over queue and exchange names')
    .argument('<definition>', 'JSON object, e.g. \'{"max-length":1000}\'', parseJsonObject)
    .addOption(new Option('--priority <n>', 'the highest-priority matching policy applies (default 0)').argParser(parseInteger))
    .addOption(new Option('--apply-to <kind>', 'what it applies to (default all)').choices(POLICY_APPLY_TO))
    .action(verbAction(async (context, verb) => {
      const name = argumentAt(verb, 0);
      const definition: unknown = verb.processedArgs[2];
      const { priority, applyTo } = verb.opts<{ priority?: number; applyTo?: string }>();
      const body = { pattern: argumentAt(verb, 1), definition, ...(priority === undefined ? {} : { priority }), ...(applyTo === undefined ? {} : { 'apply-to': applyTo }) };
      await context.client.request('PUT', `/api/policies/${segment(context.vhost)}/${segment(name)}`, { body });
      confirm(context, `set policy '${name}' on vhost '${context.vhost}'`);
    }));
  addVerb(policies, 'clear', 'delete a policy').argument('<name>', 'policy name')
    .action(verbAction(async (context, verb) => {
      const name = argumentAt(verb, 0);
      await context.client.request('DELETE', `/api/policies/${segment(context.vhost)}/${segment(name)}`);
      confirm(context, `cleared policy '${name}' on vhost '${context.vhost}'`);
    }));
}

/** Registers `vhosts`, `users`, `permissions` and `policies`. */
export function registerAccess(ctl: Command): void {
  registerVhosts(ctl);
  registerUsers(ctl);
  registerPermissions(ctl);
  registerPolicies(ctl);
}
