/**
 * /api/policies[/{vhost}[/{name}]]: list, show, create or replace (PUT with `pattern`, `definition`,
 * `priority`, `apply-to`) and delete policies. Changing them needs the policymaker or administrator
 * tag and access to the vhost; reading them, a management tag and a visible vhost.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Policy } from '../../broker/policies.js';
import type { User } from '../../broker/users.js';
import { HttpError } from '../errors.js';
import { canSeeVhost, managementUser, requireVhostAccess } from './access.js';
import type { ManagementBackend } from './backend.js';
import { callBroker, existingVhost } from './broker-calls.js';
import { listAnswer, type ListQuery } from './listing.js';

type Params = { vhost: string; name: string };

/** A policy as RabbitMQ's API shows it. */
export function policyView(policy: Policy): Record<string, unknown> {
  return { vhost: policy.vhost, name: policy.name, pattern: policy.pattern, 'apply-to': policy.applyTo, definition: { ...policy.definition }, priority: policy.priority };
}

/** Registers the policy routes. */
export function registerPolicyRoutes(app: FastifyInstance, backend: ManagementBackend): void {
  const { broker } = backend;
  const policymaker = (request: FastifyRequest, vhost: string): User => {
    const user = managementUser(request);
    if (!user.tags.includes('administrator') && !user.tags.includes('policymaker')) throw new HttpError(401, 'Not policymaker user');
    existingVhost(broker, vhost);
    requireVhostAccess(broker.users, user, vhost);
    return user;
  };
  const visiblePolicies = (request: FastifyRequest, only?: string): Policy[] => {
    const user = managementUser(request);
    if (only !== undefined) existingVhost(broker, only);
    return [...broker.vhosts.values()]
      .filter((vhost) => (only === undefined || vhost.name === only) && canSeeVhost(broker.users, user, vhost.name))
      .flatMap((vhost) => vhost.policies.list());
  };

  app.get('/api/policies', async (request) => listAnswer(visiblePolicies(request).map(policyView), request.query as ListQuery));
  app.get<{ Params: { vhost: string } }>('/api/policies/:vhost', async (request) =>
    listAnswer(visiblePolicies(request, request.params.vhost).map(policyView), request.query as ListQuery));
  app.get<{ Params: Params }>('/api/policies/:vhost/:name', async (request) => {
    const policy = visiblePolicies(request, request.params.vhost).find((candidate) => candidate.name === request.params.name);
    if (policy === undefined) throw new HttpError(404, 'Object Not Found');
    return policyView(policy);
  });
  app.put<{ Params: Params; Body: Record<string, unknown> | undefined }>('/api/policies/:vhost/:name', async (request, reply) => {
    policymaker(request, request.params.vhost);
    const body = request.body ?? {};
    const existed = existingVhost(broker, request.params.vhost).policies.get(request.params.name) !== undefined;
    callBroker(() => broker.putPolicy({
      vhost: request.params.vhost, name: request.params.name, pattern: body['pattern'], applyTo: body['apply-to'],
      priority: body['priority'], definition: body['definition'],
    }));
    return reply.code(existed ? 204 : 201).send();
  });
  app.delete<{ Params: Params }>('/api/policies/:vhost/:name', async (request, reply) => {
    policymaker(request, request.params.vhost);
    if (!callBroker(() => broker.deletePolicy(request.params.vhost, request.params.name))) throw new HttpError(404, 'Object Not Found');
    return reply.code(204).send();
  });
}
