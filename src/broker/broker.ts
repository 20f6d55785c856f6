/**
 * The broker: the vhosts and users of one node. Transport layers (AMQP server, HTTP) call into it.
 */
import type { WarrenConfig } from '../config/config.js';
import type { Logger } from '../util/logger.js';
import { restoreVhost } from './durability.js';
import { ResourceAlarm } from './resource-alarm.js';
import type { Persistence } from './ports.js';
import { NO_FLOW_CONTROL, type FlowControlPolicy } from './publisher-throttle.js';
import { Users } from './users.js';
import { Vhost } from './vhost.js';

/** One node's broker state. */
export class Broker {
  readonly vhosts = new Map<string, Vhost>();
  readonly users: Users;
  private nextConnectionId = 1;

  /** Held message bytes against the memory high watermark. */
  readonly alarms: ResourceAlarm;

  constructor(
    config: Pick<WarrenConfig, 'vhosts' | 'users'> & {
      limits: Pick<WarrenConfig['limits'], 'memoryHighWatermarkBytes' | 'queueMemoryWindowMessages'>;
    },
    flowControl: FlowControlPolicy = NO_FLOW_CONTROL,
    private readonly persistence?: Persistence,
    logger?: Logger,
  ) {
    this.alarms = new ResourceAlarm(config.limits.memoryHighWatermarkBytes, config.limits.queueMemoryWindowMessages);
    for (const name of config.vhosts) this.vhosts.set(name, new Vhost(name, flowControl, this.alarms, persistence, logger));
    this.users = new Users(config.users);
  }

  /** Rebuilds durable exchanges, queues (with their persistent messages) and bindings from storage. */
  restore(): void {
    if (this.persistence === undefined) return;
    const definitions = this.persistence.definitions.load();
    for (const vhost of this.vhosts.values()) restoreVhost(vhost, definitions);
  }

  /** A fresh id for a connection; exclusive queues record their owner by it. */
  allocateConnectionId(): number {
    return this.nextConnectionId++;
  }
}
