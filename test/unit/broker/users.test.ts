import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GUEST_USER } from '../../../src/config/config.js';
import { Users, isLoopbackAddress } from '../../../src/broker/users.js';

test('loopback addresses are recognised', () => {
  for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(address), true, address);
  for (const address of ['10.0.0.1', '192.168.1.1', '::ffff:10.0.0.1', 'fe80::1', '']) assert.equal(isLoopbackAddress(address), false, address);
});

test('guest may log in only from loopback, as in RabbitMQ', () => {
  const users = new Users([GUEST_USER]);
  assert.equal(users.authenticate('guest', 'guest', '127.0.0.1').ok, true);
  const remote = users.authenticate('guest', 'guest', '10.1.2.3');
  assert.equal(remote.ok, false);
  assert.match(remote.ok ? '' : remote.reason, /only connect via localhost/);
});

test('wrong passwords and unknown users are refused', () => {
  const users = new Users([GUEST_USER, { ...GUEST_USER, username: 'app', password: 'secret', loopbackOnly: false }]);
  assert.equal(users.authenticate('guest', 'nope', '127.0.0.1').ok, false);
  assert.equal(users.authenticate('nobody', 'guest', '127.0.0.1').ok, false);
  assert.equal(users.authenticate('app', 'secret', '10.1.2.3').ok, true);
});
