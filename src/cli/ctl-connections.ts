/**
 * `warren ctl connections`, `channels` and `consumers`: what clients are doing, and closing a
 * connection (the client gets connection.close 320 CONNECTION_FORCED with the reason).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { segment } from './ctl-client.js';
import { addVerb, argumentAt, confirm, verbAction } from './ctl-command.js';
import { addListVerb } from './ctl-list.js';

/** The reason travels in an HTTP header (X-Reason), so it must be printable ASCII. */
function parseReason(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new InvalidArgumentError('must be printable ASCII (it is sent as an HTTP header)');
  return value;
}

/** Registers `connections`, `channels` and `consumers`. */
export function registerConnections(ctl: Command): void {
  const connections = ctl.command('connections').alias('connection').description('AMQP connections: list, close');
  addListVerb(connections, {
    allPath: '/api/connections', vhostPath: (vhost) => `/api/vhosts/${vhost}/connections`, named: true,
    columns: ['name', 'user', 'peer_host', 'peer_port', 'channels', 'state'],
  });
  addVerb(connections, 'close', 'close a connection (the client sees 320 CONNECTION_FORCED)')
    .argument('<name>', 'connection name, as `connections list` shows it')
    .addOption(new Option('--reason <text>', 'reason given to the client').argParser(parseReason))
    .action(verbAction(async (context, verb) => {
      const name = argumentAt(verb, 0);
      const { reason } = verb.opts<{ reason?: string }>();
      await context.client.request('DELETE', `/api/connections/${segment(name)}`, reason === undefined ? {} : { headers: { 'x-reason': reason } });
      confirm(context, `closed connection '${name}'`);
    }));

  const channels = ctl.command('channels').alias('channel').description('AMQP channels: list');
  addListVerb(channels, {
    allPath: '/api/channels', vhostPath: (vhost) => `/api/vhosts/${vhost}/channels`, named: true,
    columns: ['name', 'user', 'consumer_count', 'messages_unacknowledged', 'prefetch_count'],
  });

  const consumers = ctl.command('consumers').alias('consumer').description('consumers: list');
  addListVerb(consumers, {
    allPath: '/api/consumers', vhostPath: (vhost) => `/api/consumers/${vhost}`, named: false, vhostColumn: 'queue.vhost',
    columns: ['queue.name', 'consumer_tag', 'channel_details.connection_name', 'ack_required', 'prefetch_count'],
  });
}
