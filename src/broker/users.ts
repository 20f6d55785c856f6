/**
 * Users, passwords and vhost permissions, checked when a connection authenticates and opens a vhost.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Permission, UserConfig } from '../config/config.js';

/** The outcome of a login attempt. */
export type AuthenticationResult =
  | { ok: true; user: UserConfig }
  | { ok: false; reason: string };

/** The user registry. */
export class Users {
  private readonly byName = new Map<string, UserConfig>();

  constructor(users: readonly UserConfig[]) {
    for (const user of users) this.byName.set(user.username, user);
  }

  /** Checks a username and password, and that a loopback-only user connects from loopback. */
  authenticate(username: string, password: string, remoteAddress: string): AuthenticationResult {
    const user = this.byName.get(username);
    if (user === undefined || !passwordsEqual(user.password, password)) {
      return { ok: false, reason: `user '${username}' - invalid credentials` };
    }
    if (user.loopbackOnly && !isLoopbackAddress(remoteAddress)) {
      return { ok: false, reason: `user '${username}' can only connect via localhost` };
    }
    return { ok: true, user };
  }

  /** The user's permissions on a vhost, or undefined when the user has no access to it. */
  permission(user: UserConfig, vhost: string): Permission | undefined {
    return Object.hasOwn(user.permissions, vhost) ? user.permissions[vhost] : undefined;
  }
}

function passwordsEqual(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses. */
export function isLoopbackAddress(address: string): boolean {
  const plain = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return plain === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(plain);
}
