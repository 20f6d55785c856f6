/**
 * Who HTTP requests authenticate as. In `warren server` the broker's own Users registry answers (it has
 * this shape, synchronously); the standalone keeper (`warren keeper`) checks credentials by logging in
 * to the AMQP broker with them (amqp-login-authenticator.ts), so the broker's users apply there too.
 */
import type { AuthenticationResult, User } from '../broker/users.js';
import type { Permission } from '../config/config.js';

/** Checks credentials and answers which vhosts an authenticated user may use. */
export interface HttpAuthenticator {
  /**
   * The user `username` logs in as with `password` from `remoteAddress`, or why not. May throw an
   * HttpError (503 when the check could not be made).
   */
  authenticate(username: string, password: string, remoteAddress: string): AuthenticationResult | Promise<AuthenticationResult>;
  /** The user's permissions on `vhost`, or undefined when the user has no access to it. */
  permission(user: User, vhost: string): Permission | undefined;
}
