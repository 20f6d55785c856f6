/**
 * The broker: the vhosts and users of one node. Transport layers (AMQP server, HTTP) call into it.
 */
import type { WarrenConfig } from '../config/config.js';
import { NO_FLOW_CONTROL, type FlowControlPolicy } from './publisher-throttle.js';
import { Users } from './users.js';
import { Vhost } from './vhost.js';

/** One node's broker state. */
export class Broker {
  readonly vhosts = new Map<string, Vhost>();
  readonly users: Users;
  private nextConnectionId = 1;

  constructor(config: Pick<WarrenConfig, 'vhosts' | 'users'>, flowControl: FlowControlPolicy = NO_FLOW_CONTROL) {
    for (const name of config.vhosts) this.vhosts.set(name, new Vhost(name, flowControl));
    this.users = new Users(config.users);
  }

  /** A fresh id for a connection; exclusive queues record their owner by it. */
  allocateConnectionId(): number {
    return this.nextConnectionId++;
  }
}
