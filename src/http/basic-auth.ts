/**
 * HTTP basic authentication (RFC 7617) against the broker's users (or, in the standalone keeper, the
 * AMQP broker's), for every /api route.
 */
import type { FastifyRequest } from 'fastify';
import type { User } from '../broker/users.js';
import { assert } from '../util/assert.js';
import type { Logger } from '../util/logger.js';
import { HttpError } from './errors.js';
import type { HttpAuthenticator } from './http-authenticator.js';

/** The realm announced in WWW-Authenticate. */
export const AUTH_REALM = 'Warren';

/** The WWW-Authenticate header value sent with every 401. */
export const WWW_AUTHENTICATE = `Basic realm="${AUTH_REALM}"`;

/** Username and password from an Authorization header, or undefined when it is absent or not basic. */
export function parseBasicAuthorization(header: string | undefined): { username: string; password: string } | undefined {
  const match = header === undefined ? null : /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match === null || match[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * The user a request authenticates as; throws a 401 HttpError otherwise. The body never repeats the
 * credentials or says which part was wrong; the log records why, without the password.
 */
export async function authenticateRequest(users: HttpAuthenticator, header: string | undefined, remoteAddress: string, logger: Logger): Promise<User> {
  const credentials = parseBasicAuthorization(header);
  if (credentials === undefined) throw new HttpError(401, 'Not_Authorized: basic authentication required');
  const result = await users.authenticate(credentials.username, credentials.password, remoteAddress);
  if (!result.ok) {
    logger.warn({ remoteAddress, reason: result.reason }, 'HTTP login refused');
    throw new HttpError(401, 'Login failed');
  }
  return result.user;
}

/** The user each authenticated request runs as (set by the server's /api hook). */
const requestUsers = new WeakMap<FastifyRequest, User>();

/** Records the user a request authenticated as. */
export function setRequestUser(request: FastifyRequest, user: User): void {
  requestUsers.set(request, user);
}

/** The user an /api request authenticated as. */
export function requestUser(request: FastifyRequest): User {
  const user = requestUsers.get(request);
  assert(user !== undefined, 'an /api route ran without authentication');
  return user;
}
