/**
 * Users, passwords and vhost permissions, checked when a connection authenticates and opens a vhost.
 *
 * Users come from two places. Those in the configuration (guest by default) exist at every start.
 * Those created at runtime are written to the definitions store. A configured user changed at runtime
 * (password, tags or permissions) is written to the store as a whole (record and every permission), and
 * from then on its stored record wins over the configuration, so a restart restores exactly what was
 * set; only `loopbackOnly` always follows the configuration (it is RabbitMQ's loopback_users setting,
 * not a property of the user). Configured users cannot be deleted at runtime: without a tombstone in
 * the store they would come back at the next start, so they are removed from the configuration instead.
 */
import type { Permission, UserConfig } from '../config/config.js';
import { DefinitionError } from './errors.js';
import { hashPassword, isPasswordHash, passwordMatches } from './password-hash.js';
import type { DefinitionStore, Definitions, StoredPermission } from './ports.js';

/** Longest username accepted at runtime, in bytes of UTF-8 (an AMQP shortstr). */
export const USERNAME_MAX_BYTES = 255;

/** A user as the broker knows it. Passwords are kept only as hashes. */
export interface User {
  readonly username: string;
  /** rabbit_password_hashing_sha256 hash (see password-hash.ts); '' disables password login. */
  readonly passwordHash: string;
  /** Management tags such as "administrator". */
  readonly tags: readonly string[];
  /** Permissions by vhost name; a vhost absent here is not open to the user. */
  readonly permissions: ReadonlyMap<string, Permission>;
  /** When true the user may log in only from a loopback address (set by the configuration only). */
  readonly loopbackOnly: boolean;
}

/** A user to create or replace: a plaintext password (hashed here), a ready hash, or neither (no password login). */
export interface UserInput {
  username: string;
  password?: string;
  passwordHash?: string;
  tags: string[];
}

/** The outcome of a login attempt. */
export type AuthenticationResult =
  | { ok: true; user: User }
  | { ok: false; reason: string };

/** Checked against when the user is unknown, so an unknown name costs as much as a wrong password. */
const UNKNOWN_USER_HASH = hashPassword('');

/** The user registry. */
export class Users {
  private readonly byName = new Map<string, User>();
  private readonly configured = new Map<string, UserConfig>();
  /** Users whose record is in the definitions store (their stored permissions are all they have). */
  private readonly stored = new Set<string>();
  /** Users added with addInternal: in memory only, unlisted, and not changeable at runtime. */
  private readonly internal = new Set<string>();

  /** Starts with the configured users; runtime changes are written to `definitions` when given. */
  constructor(
    configUsers: readonly UserConfig[],
    private readonly definitions?: DefinitionStore,
  ) {
    for (const config of configUsers) {
      this.configured.set(config.username, config);
      const permissions = new Map(Object.entries(config.permissions).map(([vhost, p]) => [vhost, copyPermission(p)]));
      const { username, tags, loopbackOnly } = config;
      this.byName.set(username, { username, passwordHash: hashPassword(config.password), tags: [...tags], permissions, loopbackOnly });
    }
  }

  /** Checks a username and password, and that a loopback-only user connects from loopback. */
  authenticate(username: string, password: string, remoteAddress: string): AuthenticationResult {
    const user = this.byName.get(username);
    const matches = passwordMatches(password, user?.passwordHash ?? UNKNOWN_USER_HASH);
    if (user === undefined || !matches) {
      return { ok: false, reason: `user '${username}' - invalid credentials` };
    }
    if (user.loopbackOnly && !isLoopbackAddress(remoteAddress)) {
      return { ok: false, reason: `user '${username}' can only connect via localhost` };
    }
    return { ok: true, user };
  }

  /** The user's current permissions on a vhost, or undefined when the user (no longer) has access to it. */
  permission(user: User, vhost: string): Permission | undefined {
    return this.byName.get(user.username)?.permissions.get(vhost);
  }

  /** A user by name. */
  get(username: string): User | undefined {
    return this.byName.get(username);
  }

  /** Every user, in creation order (internal users excepted). */
  list(): User[] {
    return [...this.byName.values()].filter((user) => !this.internal.has(user.username));
  }

  /**
   * Adds a user the node itself connects as (its task keeper and client): never stored, not listed,
   * not changeable at runtime, and accepted only from loopback. Call after restore() so no stored user
   * of the same name replaces it.
   */
  addInternal(username: string, password: string, permissions: Record<string, Permission>): User {
    if (this.byName.has(username)) throw new DefinitionError('invalid', `user '${username}' already exists`);
    const permissionMap = new Map(Object.entries(permissions).map(([vhost, p]) => [vhost, copyPermission(p)]));
    const user: User = { username, passwordHash: hashPassword(password), tags: [], permissions: permissionMap, loopbackOnly: true };
    this.byName.set(username, user);
    this.internal.add(username);
    return user;
  }

  /** Applies the stored users and their permissions; a stored record replaces a configured user's defaults. */
  restore(definitions: Pick<Definitions, 'users' | 'permissions'>): void {
    const permissionsByUser = new Map<string, Map<string, Permission>>();
    for (const stored of definitions.permissions) {
      const permissions = permissionsByUser.get(stored.username) ?? new Map<string, Permission>();
      permissions.set(stored.vhost, copyPermission(stored));
      permissionsByUser.set(stored.username, permissions);
    }
    for (const { username, passwordHash, tags } of definitions.users) {
      const loopbackOnly = this.configured.get(username)?.loopbackOnly ?? false;
      const permissions = permissionsByUser.get(username) ?? new Map<string, Permission>();
      this.byName.set(username, { username, passwordHash, tags: [...tags], permissions, loopbackOnly });
      this.stored.add(username);
    }
  }

  /** Creates or replaces a user (keeping the permissions of one that exists) and stores it. */
  put(input: UserInput): User {
    validateUserInput(input);
    this.refuseInternal(input.username);
    const { username, password, passwordHash } = input;
    const existing = this.byName.get(username);
    const user: User = {
      username,
      passwordHash: password !== undefined ? hashPassword(password) : (passwordHash ?? ''),
      tags: [...input.tags],
      permissions: existing?.permissions ?? new Map<string, Permission>(),
      loopbackOnly: this.configured.get(username)?.loopbackOnly ?? false,
    };
    this.save(user, (store) => store.putUser(storedUser(user)));
    return user;
  }

  /** Deletes a runtime-created user and its permissions; false when there is no such user. */
  delete(username: string): boolean {
    this.refuseInternal(username);
    if (this.configured.has(username)) {
      throw new DefinitionError('configured', `user '${username}' is defined in the configuration; remove it there`);
    }
    if (!this.byName.has(username)) return false;
    this.definitions?.deleteUser(username);
    this.byName.delete(username);
    this.stored.delete(username);
    return true;
  }

  /** Sets a user's permissions on a vhost (the caller checks that the vhost exists). */
  setPermission(username: string, vhost: string, permission: Permission): void {
    validatePermission(permission);
    const user = this.existing(username);
    const next = copyPermission(permission);
    const permissions = new Map(user.permissions).set(vhost, next);
    this.save({ ...user, permissions }, (store) => store.putPermission({ username, vhost, ...next }));
  }

  /** Removes a user's permissions on a vhost; false when it had none. */
  clearPermission(username: string, vhost: string): boolean {
    const user = this.existing(username);
    if (!user.permissions.has(vhost)) return false;
    const permissions = new Map(user.permissions);
    permissions.delete(vhost);
    this.save({ ...user, permissions }, (store) => store.deletePermission(username, vhost));
    return true;
  }

  /** Removes every user's permissions on a vhost (the vhost is being deleted). */
  clearPermissionsOn(vhost: string): void {
    for (const user of [...this.byName.values()]) {
      if (!user.permissions.has(vhost)) continue;
      if (!this.internal.has(user.username)) {
        this.clearPermission(user.username, vhost);
        continue;
      }
      // An internal user is never stored, so its permission goes from memory only.
      const permissions = new Map(user.permissions);
      permissions.delete(vhost);
      this.byName.set(user.username, { ...user, permissions });
    }
  }

  private refuseInternal(username: string): void {
    if (this.internal.has(username)) throw new DefinitionError('configured', `user '${username}' is internal to this node`);
  }

  private existing(username: string): User {
    this.refuseInternal(username);
    const user = this.byName.get(username);
    if (user === undefined) throw new DefinitionError('notFound', `no user '${username}'`);
    return user;
  }

  /**
   * Stores a changed user, then applies it in memory (an I/O error leaves the registry unchanged). A
   * user already in the store gets only the change; any other (a configured user changed for the first
   * time, or a new user) is stored whole.
   */
  private save(user: User, writeChange: (store: DefinitionStore) => void): void {
    const store = this.definitions;
    if (store !== undefined) {
      if (this.stored.has(user.username)) writeChange(store);
      else storeWhole(store, user);
    }
    this.byName.set(user.username, user);
    this.stored.add(user.username);
  }
}

/**
 * Writes a user as a whole. Its stale permissions are cleared first and the user record comes last: the
 * record is what makes restore use the stored permissions, so a crash halfway leaves the configured
 * defaults in force, never a user with half its permissions.
 */
function storeWhole(store: DefinitionStore, user: User): void {
  store.deleteUser(user.username);
  for (const [vhost, permission] of user.permissions) store.putPermission(storedPermission(user.username, vhost, permission));
  store.putUser(storedUser(user));
}

function storedUser(user: User): { username: string; passwordHash: string; tags: string[] } {
  return { username: user.username, passwordHash: user.passwordHash, tags: [...user.tags] };
}

function storedPermission(username: string, vhost: string, permission: Permission): StoredPermission {
  return { username, vhost, ...copyPermission(permission) };
}

function copyPermission(permission: Permission): Permission {
  return { configure: permission.configure, write: permission.write, read: permission.read };
}

function validateUserInput(input: UserInput): void {
  const { username, password, passwordHash } = input;
  if (username === '' || Buffer.byteLength(username) > USERNAME_MAX_BYTES) {
    throw new DefinitionError('invalid', `a username is 1 to ${USERNAME_MAX_BYTES} bytes of UTF-8`);
  }
  if (password !== undefined && passwordHash !== undefined) {
    throw new DefinitionError('invalid', 'give either a password or a password hash, not both');
  }
  if (passwordHash !== undefined && passwordHash !== '' && !isPasswordHash(passwordHash)) {
    throw new DefinitionError('invalid', 'a password hash is base64 of a 4-byte salt and a SHA-256 digest (rabbit_password_hashing_sha256)');
  }
  if (!input.tags.every((tag) => typeof tag === 'string')) throw new DefinitionError('invalid', 'tags must be strings');
}

/** Permissions are regular expressions (as in RabbitMQ); each must compile. */
function validatePermission(permission: Permission): void {
  for (const field of ['configure', 'write', 'read'] as const) {
    const pattern = permission[field];
    try {
      if (typeof pattern !== 'string') throw new TypeError('not a string');
      new RegExp(pattern);
    } catch {
      throw new DefinitionError('invalid', `${field} permission is not a valid regular expression: ${String(pattern)}`);
    }
  }
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses. */
export function isLoopbackAddress(address: string): boolean {
  const plain = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return plain === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(plain);
}
