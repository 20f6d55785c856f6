/**
 * Internal users (the node's own task keeper and client): accepted only from loopback, never stored,
 * never listed, not changeable at runtime.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DefinitionError } from '../../../src/broker/errors.js';
import { Users } from '../../../src/broker/users.js';
import { GUEST_USER, type Permission } from '../../../src/config/config.js';
import type { DefinitionStore } from '../../../src/broker/ports.js';

const ALL: Permission = { configure: '.*', write: '.*', read: '.*' };
const refused = (reason: DefinitionError['reason']) => (error: unknown): boolean => error instanceof DefinitionError && error.reason === reason;

/** A definitions store that fails the test on any write. */
function storeRefusingWrites(): DefinitionStore {
  return new Proxy({} as DefinitionStore, {
    get: (_target, method) => () => assert.fail(`the definitions store was called: ${String(method)}`),
  });
}

test('an internal user logs in from loopback only and has the permissions it was given', () => {
  const users = new Users([GUEST_USER], storeRefusingWrites());
  users.addInternal('warren-internal', 's3cret', { '/': ALL });
  assert.equal(users.authenticate('warren-internal', 's3cret', '127.0.0.1').ok, true);
  assert.equal(users.authenticate('warren-internal', 's3cret', '::ffff:127.0.0.1').ok, true);
  assert.equal(users.authenticate('warren-internal', 's3cret', '10.0.0.1').ok, false);
  assert.equal(users.authenticate('warren-internal', 'wrong', '127.0.0.1').ok, false);
  const user = users.get('warren-internal');
  assert.ok(user !== undefined);
  assert.deepEqual(users.permission(user, '/'), ALL);
});

test('an internal user is not listed, not stored and cannot be changed or deleted', () => {
  const users = new Users([GUEST_USER], storeRefusingWrites());
  users.addInternal('warren-internal', 's3cret', { '/': ALL });
  assert.deepEqual(users.list().map((user) => user.username), ['guest']);
  assert.throws(() => users.put({ username: 'warren-internal', password: 'x', tags: [] }), refused('configured'));
  assert.throws(() => users.delete('warren-internal'), refused('configured'));
  assert.throws(() => users.setPermission('warren-internal', '/', ALL), refused('configured'));
  assert.throws(() => users.clearPermission('warren-internal', '/'), refused('configured'));
  assert.throws(() => users.addInternal('guest', 'x', {}), refused('invalid'));
});

test('deleting a vhost drops an internal user\'s permission on it in memory only', () => {
  const users = new Users([], storeRefusingWrites());
  users.addInternal('warren-internal', 's3cret', { v1: ALL, '/': ALL });
  users.clearPermissionsOn('v1');
  const user = users.get('warren-internal');
  assert.ok(user !== undefined);
  assert.equal(users.permission(user, 'v1'), undefined);
  assert.deepEqual(users.permission(user, '/'), ALL);
});
