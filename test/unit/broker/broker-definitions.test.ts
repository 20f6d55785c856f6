/**
 * The broker's runtime API for vhosts, users and permissions (without storage): creating and deleting
 * vhosts, what deleting one takes with it, and the checks on permissions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Broker } from '../../../src/broker/broker.js';
import { DefinitionError } from '../../../src/broker/errors.js';
import { DEFAULT_LIMITS, GUEST_USER, type Permission } from '../../../src/config/config.js';

const ALL: Permission = { configure: '.*', write: '.*', read: '.*' };
const refused = (reason: DefinitionError['reason']) => (error: unknown): boolean => error instanceof DefinitionError && error.reason === reason;

function newBroker(): Broker {
  return new Broker({ vhosts: ['/'], users: [GUEST_USER], limits: DEFAULT_LIMITS });
}

test('addVhost creates a vhost with the predeclared exchanges and is idempotent', () => {
  const broker = newBroker();
  const vhost = broker.addVhost('v1');
  assert.equal(broker.vhosts.get('v1'), vhost);
  assert.ok(vhost.exchanges.has('amq.topic'));
  assert.equal(broker.addVhost('v1'), vhost);
  assert.equal(broker.addVhost('/'), broker.vhosts.get('/'));
  assert.throws(() => broker.addVhost(''), refused('invalid'));
  assert.throws(() => broker.addVhost('v'.repeat(256)), refused('invalid'));
});

test('setPermission needs an existing vhost and user; the permission opens the vhost', () => {
  const broker = newBroker();
  broker.putUser({ username: 'alice', password: 'secret', tags: [] });
  assert.throws(() => broker.setPermission('alice', 'v1', ALL), refused('notFound'));
  broker.addVhost('v1');
  assert.throws(() => broker.setPermission('nobody', 'v1', ALL), refused('notFound'));
  broker.setPermission('alice', 'v1', ALL);
  const login = broker.users.authenticate('alice', 'secret', '127.0.0.1');
  assert.ok(login.ok);
  assert.deepEqual(broker.users.permission(login.user, 'v1'), ALL);
  assert.equal(broker.users.permission(login.user, '/'), undefined);
  assert.equal(broker.clearPermission('alice', 'v1'), true);
  assert.equal(broker.clearPermission('alice', 'v1'), false);
  assert.equal(broker.users.permission(login.user, 'v1'), undefined);
});

test('deleteVhost deletes its queues (exclusive ones too), exchanges and permissions', () => {
  const broker = newBroker();
  const vhost = broker.addVhost('v1');
  broker.putUser({ username: 'alice', password: 'secret', tags: [] });
  broker.setPermission('alice', 'v1', ALL);
  broker.setPermission('guest', 'v1', ALL);
  const options = { durable: true, exclusiveOwner: null, autoDelete: false, arguments: {} };
  const shared = vhost.declareQueue('shared', options, false, 1).queue;
  const exclusive = vhost.declareQueue('mine', { ...options, durable: false, exclusiveOwner: 7 }, false, 7).queue;
  const exchange = vhost.declareExchange('events', 'topic', { durable: true, autoDelete: false, internal: false, arguments: {} }, false);
  vhost.bindQueue('shared', 'events', '#', {}, 1);
  assert.equal(broker.deleteVhost('v1'), true);
  assert.equal(broker.vhosts.has('v1'), false);
  assert.equal(shared.deleted, true);
  assert.equal(exclusive.deleted, true);
  assert.equal(exchange.deleted, true);
  assert.equal(vhost.queues.size, 0);
  assert.equal(broker.users.get('alice')?.permissions.has('v1'), false);
  assert.equal(broker.users.get('guest')?.permissions.has('v1'), false);
  assert.equal(broker.users.get('guest')?.permissions.has('/'), true);
  assert.equal(broker.deleteVhost('v1'), false);
});

test('configured vhosts and users cannot be deleted at runtime', () => {
  const broker = newBroker();
  assert.throws(() => broker.deleteVhost('/'), refused('configured'));
  assert.throws(() => broker.deleteUser('guest'), refused('configured'));
  assert.ok(broker.vhosts.has('/'));
  broker.putUser({ username: 'alice', tags: [] });
  assert.equal(broker.deleteUser('alice'), true);
  assert.equal(broker.deleteUser('alice'), false);
});
