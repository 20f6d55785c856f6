/**
 * /api/vhosts, /api/users and /api/permissions: who may connect where. Reading vhosts needs a
 * management tag (and shows only the vhosts the user may see); everything else needs administrator.
 */
import type { FastifyInstance } from 'fastify';
import type { User } from '../../broker/users.js';
import { HttpError } from '../errors.js';
import { administrator, canSeeVhost, managementUser } from './access.js';
import type { ManagementBackend } from './backend.js';
import { callBroker, existingVhost } from './broker-calls.js';
import { listAnswer, type ListQuery } from './listing.js';
import { PASSWORD_HASHING, permissionView, userView, vhostView } from './views.js';

/** Registers the vhost, user and permission routes. */
export function registerAccessRoutes(app: FastifyInstance, backend: ManagementBackend): void {
  const { broker } = backend;
  const permissionsOf = (users: readonly User[], vhost?: string): Record<string, unknown>[] =>
    users.flatMap((user) => [...user.permissions]
      .filter(([name]) => vhost === undefined || name === vhost)
      .map(([name, permission]) => permissionView(user.username, name, permission)));
  const existingUser = (username: string): User => {
    const user = broker.users.get(username);
    if (user === undefined || !broker.users.list().includes(user)) throw new HttpError(404, 'Object Not Found');
    return user;
  };

  app.get('/api/vhosts', async (request) => {
    const user = managementUser(request);
    const visible = [...broker.vhosts.values()].filter((vhost) => canSeeVhost(broker.users, user, vhost.name));
    return listAnswer(visible.map(vhostView), request.query as ListQuery);
  });
  app.get<{ Params: { vhost: string } }>('/api/vhosts/:vhost', async (request) => {
    const vhost = existingVhost(broker, request.params.vhost);
    if (!canSeeVhost(broker.users, managementUser(request), vhost.name)) throw new HttpError(404, 'Object Not Found');
    return vhostView(vhost);
  });
  app.put<{ Params: { vhost: string } }>('/api/vhosts/:vhost', async (request, reply) => {
    const user = administrator(request);
    const existed = broker.vhosts.has(request.params.vhost);
    callBroker(() => broker.addVhost(request.params.vhost));
    // As RabbitMQ's API does, the administrator who creates a vhost gets full permissions on it.
    if (!existed) callBroker(() => broker.setPermission(user.username, request.params.vhost, { configure: '.*', write: '.*', read: '.*' }));
    return reply.code(existed ? 204 : 201).send();
  });
  app.delete<{ Params: { vhost: string } }>('/api/vhosts/:vhost', async (request, reply) => {
    administrator(request);
    if (!callBroker(() => broker.deleteVhost(request.params.vhost))) throw new HttpError(404, 'Object Not Found');
    return reply.code(204).send();
  });
  app.get<{ Params: { vhost: string } }>('/api/vhosts/:vhost/permissions', async (request) => {
    administrator(request);
    existingVhost(broker, request.params.vhost);
    return listAnswer(permissionsOf(broker.users.list(), request.params.vhost), request.query as ListQuery);
  });

  app.get('/api/users', async (request) => {
    administrator(request);
    return listAnswer(broker.users.list().map(userView), request.query as ListQuery);
  });
  app.get<{ Params: { user: string } }>('/api/users/:user', async (request) => {
    administrator(request);
    return userView(existingUser(request.params.user));
  });
  app.put<{ Params: { user: string }; Body: Record<string, unknown> | undefined }>('/api/users/:user', async (request, reply) => {
    administrator(request);
    const body = request.body ?? {};
    const { password, password_hash: passwordHash, hashing_algorithm: hashing } = body;
    if (password !== undefined && typeof password !== 'string') throw new HttpError(400, 'password must be a string');
    if (passwordHash !== undefined && typeof passwordHash !== 'string') throw new HttpError(400, 'password_hash must be a string');
    if (password === undefined && passwordHash === undefined) throw new HttpError(400, 'password or password_hash is required');
    if (hashing !== undefined && hashing !== PASSWORD_HASHING) throw new HttpError(400, `hashing_algorithm must be ${PASSWORD_HASHING}`);
    const existed = broker.users.get(request.params.user) !== undefined;
    callBroker(() => broker.putUser({
      username: request.params.user, tags: tagsOf(body['tags']),
      ...(password !== undefined ? { password } : {}), ...(passwordHash !== undefined ? { passwordHash } : {}),
    }));
    return reply.code(existed ? 204 : 201).send();
  });
  app.delete<{ Params: { user: string } }>('/api/users/:user', async (request, reply) => {
    administrator(request);
    if (!callBroker(() => broker.deleteUser(request.params.user))) throw new HttpError(404, 'Object Not Found');
    return reply.code(204).send();
  });
  app.get<{ Params: { user: string } }>('/api/users/:user/permissions', async (request) => {
    administrator(request);
    return listAnswer(permissionsOf([existingUser(request.params.user)]), request.query as ListQuery);
  });

  app.get('/api/permissions', async (request) => {
    administrator(request);
    return listAnswer(permissionsOf(broker.users.list()), request.query as ListQuery);
  });
  app.get<{ Params: { vhost: string; user: string } }>('/api/permissions/:vhost/:user', async (request) => {
    administrator(request);
    const permission = existingUser(request.params.user).permissions.get(request.params.vhost);
    if (permission === undefined) throw new HttpError(404, 'Object Not Found');
    return permissionView(request.params.user, request.params.vhost, permission);
  });
  app.put<{ Params: { vhost: string; user: string }; Body: Record<string, unknown> | undefined }>('/api/permissions/:vhost/:user', async (request, reply) => {
    administrator(request);
    const body = request.body ?? {};
    const [configure, write, read] = (['configure', 'write', 'read'] as const).map((name) => {
      const value = body[name];
      if (typeof value !== 'string') throw new HttpError(400, `${name} must be a string (a regular expression)`);
      return value;
    }) as [string, string, string];
    const user = existingUser(request.params.user);
    const existed = user.permissions.has(request.params.vhost);
    callBroker(() => broker.setPermission(user.username, request.params.vhost, { configure, write, read }));
    return reply.code(existed ? 204 : 201).send();
  });
  app.delete<{ Params: { vhost: string; user: string } }>('/api/permissions/:vhost/:user', async (request, reply) => {
    administrator(request);
    if (!callBroker(() => broker.clearPermission(request.params.user, request.params.vhost))) throw new HttpError(404, 'Object Not Found');
    return reply.code(204).send();
  });
}

/** A user's tags from RabbitMQ's JSON: a comma-separated string or an array of strings. */
export function tagsOf(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value.split(',').map((tag) => tag.trim()).filter((tag) => tag !== '');
  if (Array.isArray(value) && value.every((tag) => typeof tag === 'string')) return value as string[];
  throw new HttpError(400, 'tags must be a comma-separated string or an array of strings');
}
