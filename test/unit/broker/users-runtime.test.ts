/**
 * Users created and changed at runtime: hashed passwords, authentication of hashed and configured users,
 * what reaches the definitions store, and a stored record winning over the configuration at restore.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { DefinitionError } from '../../../src/broker/errors.js';
import { Users } from '../../../src/broker/users.js';
import { GUEST_USER, type Permission } from '../../../src/config/config.js';
import { DEFINITIONS_FILE, FileDefinitionStore } from '../../../src/storage/definition-store.js';
import { temporaryDirectory } from '../storage/fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function openDefinitions(directory: string): FileDefinitionStore {
  const store = new FileDefinitionStore(directory);
  cleanups.unshift(() => store.close());
  return store;
}

/** The users of a node restarted on `directory` with the given configured users. */
function restarted(directory: string, configUsers = [GUEST_USER]): Users {
  const users = new Users(configUsers);
  users.restore(openDefinitions(directory).load());
  return users;
}

const ALL: Permission = { configure: '.*', write: '.*', read: '.*' };
const refused = (reason: DefinitionError['reason']) => (error: unknown): boolean => error instanceof DefinitionError && error.reason === reason;

test('users created with a password or a ready hash authenticate; others are refused', () => {
  const users = new Users([GUEST_USER]);
  users.put({ username: 'alice', password: 'secret', tags: [] });
  const salt = Buffer.from([1, 2, 3, 4]);
  const hash = Buffer.concat([salt, createHash('sha256').update(Buffer.concat([salt, Buffer.from('hunter2')])).digest()]).toString('base64');
  users.put({ username: 'bob', passwordHash: hash, tags: ['monitoring'] });
  users.put({ username: 'locked', tags: [] });
  assert.equal(users.authenticate('alice', 'secret', '10.0.0.1').ok, true, 'runtime users are not loopback-only');
  assert.equal(users.authenticate('alice', 'Secret', '127.0.0.1').ok, false);
  assert.equal(users.authenticate('bob', 'hunter2', '127.0.0.1').ok, true);
  assert.equal(users.authenticate('locked', '', '127.0.0.1').ok, false, 'a user without a password cannot log in with one');
  assert.equal(users.authenticate('guest', 'guest', '127.0.0.1').ok, true, 'configured plaintext passwords still work');
  assert.equal(users.get('alice')?.passwordHash.length, 48);
  assert.notEqual(users.get('alice')?.passwordHash, 'secret');
});

test('invalid users and permissions are refused with a reason', () => {
  const users = new Users([GUEST_USER]);
  assert.throws(() => users.put({ username: '', password: 'x', tags: [] }), refused('invalid'));
  assert.throws(() => users.put({ username: 'x'.repeat(256), password: 'x', tags: [] }), refused('invalid'));
  assert.throws(() => users.put({ username: 'a', password: 'x', passwordHash: hashOf(''), tags: [] }), refused('invalid'));
  assert.throws(() => users.put({ username: 'a', passwordHash: 'not-a-hash', tags: [] }), refused('invalid'));
  assert.throws(() => users.setPermission('nobody', '/', ALL), refused('notFound'));
  assert.throws(() => users.setPermission('guest', '/', { ...ALL, write: '(' }), refused('invalid'));
  assert.throws(() => users.delete('guest'), refused('configured'));
  assert.equal(users.delete('nobody'), false);
});

test('runtime users and permissions are stored, with the password only as a hash', () => {
  const directory = temporaryDirectory(cleanups);
  const users = new Users([GUEST_USER], openDefinitions(directory));
  users.put({ username: 'alice', password: 'plaintext-secret', tags: ['management'] });
  users.setPermission('alice', 'v1', ALL);
  users.put({ username: 'carol', password: 'c', tags: [] });
  users.setPermission('carol', 'v1', ALL);
  assert.equal(users.delete('carol'), true);
  assert.doesNotMatch(readFileSync(join(directory, DEFINITIONS_FILE)).toString('latin1'), /plaintext-secret/);
  const after = restarted(directory);
  assert.equal(after.authenticate('alice', 'plaintext-secret', '127.0.0.1').ok, true);
  assert.deepEqual(after.get('alice')?.tags, ['management']);
  assert.deepEqual([...(after.get('alice')?.permissions ?? [])], [['v1', ALL]]);
  assert.equal(after.get('carol'), undefined);
  assert.equal(after.authenticate('carol', 'c', '127.0.0.1').ok, false);
});

test('a configured user changed at runtime is stored whole and its stored record wins at restore', () => {
  const directory = temporaryDirectory(cleanups);
  const users = new Users([GUEST_USER], openDefinitions(directory));
  users.setPermission('guest', 'v1', ALL);
  // The whole user was stored: its configured permission on '/' too.
  const stored = openDefinitions(directory).load();
  assert.deepEqual(stored.users.map((u) => u.username), ['guest']);
  assert.deepEqual(stored.permissions.map((p) => p.vhost).sort(), ['/', 'v1']);
  users.clearPermission('guest', '/');
  users.put({ username: 'guest', password: 'changed', tags: ['administrator'] });
  // The configuration says otherwise now; the stored record wins, except for loopbackOnly.
  const after = restarted(directory, [{ ...GUEST_USER, password: 'from-config', permissions: { '/': ALL, v2: ALL } }]);
  assert.equal(after.authenticate('guest', 'changed', '127.0.0.1').ok, true);
  assert.equal(after.authenticate('guest', 'from-config', '127.0.0.1').ok, false);
  assert.equal(after.authenticate('guest', 'changed', '10.0.0.1').ok, false, 'still loopback-only');
  const guest = after.get('guest');
  assert.ok(guest !== undefined);
  assert.deepEqual([...guest.permissions.keys()], ['v1']);
  assert.equal(after.permission(guest, '/'), undefined);
});

test('an unchanged configured user is not stored and follows the configuration', () => {
  const directory = temporaryDirectory(cleanups);
  const users = new Users([GUEST_USER], openDefinitions(directory));
  users.put({ username: 'alice', password: 'a', tags: [] });
  assert.deepEqual(openDefinitions(directory).load().users.map((u) => u.username), ['alice']);
  const after = restarted(directory, [{ ...GUEST_USER, password: 'new-config-password' }]);
  assert.equal(after.authenticate('guest', 'new-config-password', '127.0.0.1').ok, true);
});

test('permission() reads the current registry, so a later change applies to an authenticated user', () => {
  const users = new Users([GUEST_USER]);
  users.put({ username: 'alice', password: 'a', tags: [] });
  const login = users.authenticate('alice', 'a', '127.0.0.1');
  assert.ok(login.ok);
  assert.equal(users.permission(login.user, 'v1'), undefined);
  users.setPermission('alice', 'v1', ALL);
  assert.deepEqual(users.permission(login.user, 'v1'), ALL);
  users.delete('alice');
  assert.equal(users.permission(login.user, 'v1'), undefined);
});

function hashOf(password: string): string {
  const salt = Buffer.alloc(4);
  return Buffer.concat([salt, createHash('sha256').update(Buffer.concat([salt, Buffer.from(password)])).digest()]).toString('base64');
}
