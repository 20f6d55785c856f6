/**
 * RabbitMQ's resource permissions: each user has, per vhost, three regular expressions naming the
 * queues and exchanges it may configure (declare, delete), write to (publish, bind to) and read from
 * (consume, get, purge, bind from). A refused operation is 403 ACCESS_REFUSED on the channel, with
 * RabbitMQ's text. The default exchange is checked under the name `amq.default`, as in RabbitMQ.
 * Permissions are read at every check, so a change applies at once to open connections.
 */
import type { Permission } from '../config/config.js';
import type { FieldTable } from '../codec/index.js';
import { stringValue } from './arguments.js';
import { accessRefused } from './errors.js';
import type { Users } from './users.js';

/** Which of the three permissions an operation needs. */
export type PermissionKind = keyof Permission;
/** The kind of resource a permission names. */
export type ResourceKind = 'queue' | 'exchange';

/** Compiled patterns, shared by every checker (patterns are few: one set per user and vhost). */
const compiled = new Map<string, RegExp>();
const COMPILED_MAX = 10_000;

function patternOf(source: string): RegExp {
  let pattern = compiled.get(source);
  if (pattern === undefined) {
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    pattern = new RegExp(source);
    compiled.set(source, pattern);
  }
  return pattern;
}

/** True when `permission` lets its holder do `kind` on a resource named `name`. */
export function permits(permission: Permission | undefined, kind: PermissionKind, name: string): boolean {
  return permission !== undefined && permission[kind] !== '' && patternOf(permission[kind]).test(name);
}

/** Checks one user's operations in one vhost (an AMQP channel or an HTTP request holds one). */
export class ResourceAccess {
  /** Write checks of recent publishes, valid while the permission object stays the same one. */
  private writableExchanges = new Map<string, boolean>();
  private cachedFor: Permission | undefined;

  constructor(
    private readonly users: Users,
    private readonly username: string,
    private readonly vhost: string,
  ) {}

  /** Throws 403 ACCESS_REFUSED unless the user may do `kind` on the resource. */
  check(kind: PermissionKind, resource: ResourceKind, name: string): void {
    const subject = resource === 'exchange' && name === '' ? 'amq.default' : name;
    if (!permits(this.currentPermission(), kind, subject)) throw this.refusal(resource, subject);
  }

  /** exchange.declare: configure on the exchange; with an alternate exchange also write on it and read on this one. */
  checkExchangeDeclare(exchange: string, args: FieldTable): void {
    this.check('configure', 'exchange', exchange);
    const alternate = stringValue(args['alternate-exchange']);
    if (alternate === undefined) return;
    this.check('write', 'exchange', alternate);
    this.check('read', 'exchange', exchange);
  }

  /** queue.declare: configure on the queue; with a dead-letter exchange also write on it and read on the queue. */
  checkQueueDeclare(queue: string, args: FieldTable): void {
    this.check('configure', 'queue', queue);
    const deadLetterExchange = stringValue(args['x-dead-letter-exchange']);
    if (deadLetterExchange === undefined) return;
    this.check('write', 'exchange', deadLetterExchange);
    this.check('read', 'queue', queue);
  }

  /** queue.bind/unbind and exchange.bind/unbind: write on the destination, read on the source exchange. */
  checkBind(destinationKind: ResourceKind, destination: string, source: string): void {
    this.check('write', destinationKind, destination);
    this.check('read', 'exchange', source);
  }

  /** The write check of basic.publish, memoised per exchange name (it runs for every message). */
  checkPublish(exchange: string): void {
    const permission = this.currentPermission();
    if (permission !== this.cachedFor) {
      this.cachedFor = permission;
      this.writableExchanges = new Map();
    }
    let allowed = this.writableExchanges.get(exchange);
    if (allowed === undefined) {
      allowed = permits(permission, 'write', exchange === '' ? 'amq.default' : exchange);
      if (this.writableExchanges.size >= 64) this.writableExchanges.clear();
      this.writableExchanges.set(exchange, allowed);
    }
    if (!allowed) throw this.refusal('exchange', exchange === '' ? 'amq.default' : exchange);
  }

  private currentPermission(): Permission | undefined {
    const user = this.users.get(this.username);
    return user === undefined ? undefined : this.users.permission(user, this.vhost);
  }

  private refusal(resource: ResourceKind, name: string): Error {
    return accessRefused(`access to ${resource} '${name}' in vhost '${this.vhost}' refused for user '${this.username}'`);
  }
}
