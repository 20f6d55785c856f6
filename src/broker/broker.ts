/**
 * The broker: the vhosts and users of one node. Transport layers (AMQP server, HTTP) call into it.
 *
 * Vhosts, like users (see users.ts), come from the configuration or are created at runtime. Configured
 * vhosts exist at every start and are never stored; runtime-created ones are written to the definitions
 * store before the call returns and come back, with their durable exchanges and queues, at restart.
 */
import type { Permission, WarrenConfig } from '../config/config.js';
import type { Logger } from '../util/logger.js';
import { restoreVhost } from './durability.js';
import { DefinitionError } from './errors.js';
import { validatePolicy, type Policy, type PolicyInput } from './policies.js';
import { ResourceAlarm } from './resource-alarm.js';
import type { Persistence } from './ports.js';
import { NO_FLOW_CONTROL, type FlowControlPolicy } from './publisher-throttle.js';
import { Users, type User, type UserInput } from './users.js';
import { Vhost } from './vhost.js';

/** Longest vhost name, in bytes of UTF-8 (connection.open carries it in a shortstr). */
export const VHOST_NAME_MAX_BYTES = 255;

/** One node's broker state. */
export class Broker {
  readonly vhosts = new Map<string, Vhost>();
  readonly users: Users;
  private nextConnectionId = 1;
  private readonly configuredVhosts: ReadonlySet<string>;

  /** Held message bytes against the memory high watermark. */
  readonly alarms: ResourceAlarm;

  constructor(
    config: Pick<WarrenConfig, 'vhosts' | 'users'> & {
      limits: Pick<WarrenConfig['limits'], 'memoryHighWatermarkBytes' | 'queueMemoryWindowMessages'>;
    },
    private readonly flowControl: FlowControlPolicy = NO_FLOW_CONTROL,
    private readonly persistence?: Persistence,
    private readonly logger?: Logger,
  ) {
    this.alarms = new ResourceAlarm(config.limits.memoryHighWatermarkBytes, config.limits.queueMemoryWindowMessages);
    this.configuredVhosts = new Set(config.vhosts);
    for (const name of config.vhosts) this.vhosts.set(name, this.newVhost(name));
    this.users = new Users(config.users, persistence?.definitions);
  }

  /**
   * Rebuilds the stored state: runtime-created vhosts first, then users and permissions, then every
   * vhost's durable exchanges, queues (with their persistent messages) and bindings.
   */
  restore(): void {
    if (this.persistence === undefined) return;
    const definitions = this.persistence.definitions.load();
    for (const { name } of definitions.vhosts) {
      if (!this.vhosts.has(name)) this.vhosts.set(name, this.newVhost(name));
    }
    this.users.restore(definitions);
    // Policies first, so every restored queue and exchange starts with the policy that applies to it.
    for (const stored of definitions.policies) {
      const vhost = this.vhosts.get(stored.vhost);
      if (vhost === undefined) continue;
      try {
        vhost.policies.set(validatePolicy(stored));
      } catch (error) {
        this.logger?.warn({ vhost: stored.vhost, policy: stored.name, error: String(error) }, 'stored policy no longer valid; skipped');
      }
    }
    for (const vhost of this.vhosts.values()) restoreVhost(vhost, definitions);
  }

  /** Stops the broker's timers that would touch storage (delayed messages); called before storage closes. */
  stop(): void {
    for (const vhost of this.vhosts.values()) vhost.delayedMessages.stop();
  }

  /** A fresh id for a connection; exclusive queues record their owner by it. */
  allocateConnectionId(): number {
    return this.nextConnectionId++;
  }

  /** Creates a vhost (with its predeclared exchanges) and stores it; an existing one is returned as is. */
  addVhost(name: string): Vhost {
    const existing = this.vhosts.get(name);
    if (existing !== undefined) return existing;
    if (name === '' || Buffer.byteLength(name) > VHOST_NAME_MAX_BYTES) {
      throw new DefinitionError('invalid', `a vhost name is 1 to ${VHOST_NAME_MAX_BYTES} bytes of UTF-8`);
    }
    this.persistence?.definitions.putVhost({ name });
    const vhost = this.newVhost(name);
    this.vhosts.set(name, vhost);
    return vhost;
  }

  /**
   * Deletes a runtime-created vhost: every permission on it, then its queues (with their stored
   * messages) and exchanges. False when there is no such vhost. Configured vhosts cannot be deleted at
   * runtime (they would come back at the next start). Connections still open on it are not closed here.
   */
  deleteVhost(name: string): boolean {
    if (this.configuredVhosts.has(name)) {
      throw new DefinitionError('configured', `vhost '${name}' is defined in the configuration; remove it there`);
    }
    const vhost = this.vhosts.get(name);
    if (vhost === undefined) return false;
    this.users.clearPermissionsOn(name);
    // Once this record is durable the vhost and all it held are gone, whatever happens below.
    this.persistence?.definitions.deleteVhost(name);
    this.vhosts.delete(name);
    deleteEverythingIn(vhost);
    return true;
  }

  /** Creates or replaces a user (a password is stored only as a salted hash); its permissions are kept. */
  putUser(input: UserInput): User {
    return this.users.put(input);
  }

  /** Deletes a runtime-created user and its permissions; false when there is no such user. */
  deleteUser(username: string): boolean {
    return this.users.delete(username);
  }

  /** Sets a user's configure/write/read permissions on an existing vhost. */
  setPermission(username: string, vhost: string, permission: Permission): void {
    if (!this.vhosts.has(vhost)) throw new DefinitionError('notFound', `no vhost '${vhost}'`);
    this.users.setPermission(username, vhost, permission);
  }

  /** Removes a user's permissions on a vhost; false when it had none. */
  clearPermission(username: string, vhost: string): boolean {
    return this.users.clearPermission(username, vhost);
  }

  /** Creates or replaces a policy (stored before it applies) and re-evaluates the vhost's queues and exchanges. */
  putPolicy(input: PolicyInput): Policy {
    const vhost = this.vhosts.get(input.vhost);
    if (vhost === undefined) throw new DefinitionError('notFound', `no vhost '${input.vhost}'`);
    const policy = validatePolicy(input);
    this.persistence?.definitions.putPolicy({ ...policy, definition: { ...policy.definition } });
    vhost.policies.set(policy);
    vhost.reapplyPolicies();
    return policy;
  }

  /** Deletes a policy; false when there is no such policy. */
  deletePolicy(vhostName: string, name: string): boolean {
    const vhost = this.vhosts.get(vhostName);
    if (vhost?.policies.get(name) === undefined) return false;
    this.persistence?.definitions.deletePolicy(vhostName, name);
    vhost.policies.delete(name);
    vhost.reapplyPolicies();
    return true;
  }

  private newVhost(name: string): Vhost {
    return new Vhost(name, this.flowControl, this.alarms, this.persistence, this.logger);
  }
}

/** Deletes a vhost's queues (destroying their stored messages) and its exchanges, through the usual paths. */
function deleteEverythingIn(vhost: Vhost): void {
  const unconditionally = { ifUnused: false, ifEmpty: false };
  for (const queue of [...vhost.queues.values()]) {
    // Acting as the owner lets an exclusive queue be deleted too.
    vhost.deleteQueue(queue.name, unconditionally, queue.options.exclusiveOwner ?? 0);
  }
  for (const name of [...vhost.exchanges.keys()]) {
    if (name !== '' && !name.startsWith('amq.')) vhost.deleteExchange(name, false);
  }
}
