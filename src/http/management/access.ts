/**
 * Who may use the management API, by RabbitMQ's user tags: `administrator` may do everything;
 * `monitoring` sees every vhost, connection and channel; `management` and `policymaker` see only the
 * vhosts they have permissions on. A user without any of these tags is refused (401, as RabbitMQ).
 * Changing anything in a vhost needs a permission entry on it, administrators included.
 */
import type { FastifyRequest } from 'fastify';
import { ResourceAccess } from '../../broker/access-control.js';
import type { Users, User } from '../../broker/users.js';
import { requestUser } from '../basic-auth.js';
import { HttpError } from '../errors.js';

const MANAGEMENT_TAGS = new Set(['administrator', 'monitoring', 'policymaker', 'management']);

/** The request's user, who must hold a management tag. */
export function managementUser(request: FastifyRequest): User {
  const user = requestUser(request);
  if (!user.tags.some((tag) => MANAGEMENT_TAGS.has(tag))) throw new HttpError(401, 'Not management user');
  return user;
}

/** The request's user, who must be an administrator. */
export function administrator(request: FastifyRequest): User {
  const user = managementUser(request);
  if (!user.tags.includes('administrator')) throw new HttpError(401, 'Not administrator user');
  return user;
}

/** True when the user may see everything of every vhost. */
export function seesAll(user: User): boolean {
  return user.tags.includes('administrator') || user.tags.includes('monitoring');
}

/** True when `user` may see what is in `vhost`. */
export function canSeeVhost(users: Users, user: User, vhost: string): boolean {
  return seesAll(user) || users.permission(user, vhost) !== undefined;
}

/** Throws unless `user` holds a permission entry on `vhost` (needed to change anything in it). */
export function requireVhostAccess(users: Users, user: User, vhost: string): void {
  if (users.permission(user, vhost) === undefined) throw new HttpError(401, `access to vhost '${vhost}' refused for user '${user.username}'`);
}

/**
 * The user's configure/write/read checks in `vhost`, after the vhost access check: the HTTP API checks
 * the same permissions as the AMQP operation it stands for (a refusal is a 403).
 */
export function resourceAccess(users: Users, user: User, vhost: string): ResourceAccess {
  requireVhostAccess(users, user, vhost);
  return new ResourceAccess(users, user.username, vhost);
}
