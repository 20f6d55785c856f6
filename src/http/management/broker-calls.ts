/**
 * Calling the broker from an HTTP route: the errors a channel would close with, and refused definition
 * changes, become HTTP errors with RabbitMQ's statuses (404 for what does not exist, 400 otherwise).
 */
import type { Broker } from '../../broker/broker.js';
import { AmqpError, DefinitionError } from '../../broker/errors.js';
import type { Vhost } from '../../broker/vhost.js';
import { HttpError } from '../errors.js';

/** Runs `work`, turning broker errors into HttpErrors. */
export function callBroker<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof AmqpError) {
      const status = error.replyCode === 404 ? 404 : error.replyCode === 403 ? 403 : 400;
      throw new HttpError(status, error.replyText);
    }
    if (error instanceof DefinitionError) throw new HttpError(error.reason === 'notFound' ? 404 : 400, error.message);
    throw error;
  }
}

/** The vhost of that name, or a 404. */
export function existingVhost(broker: Broker, name: string): Vhost {
  const vhost = broker.vhosts.get(name);
  if (vhost === undefined) throw new HttpError(404, `no vhost '${name}'`);
  return vhost;
}

/** Resolves once everything the broker wrote is on disk (as a publisher confirm would). */
export function syncedToDisk(vhost: Vhost): Promise<void> {
  return new Promise((resolve, reject) => vhost.syncMessages((error) => (error === undefined ? resolve() : reject(error))));
}
