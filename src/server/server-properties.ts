/**
 * The server-properties table sent in connection.start: who we are and what we support.
 */
import { readFileSync } from 'node:fs';
import type { FieldTable } from '../codec/index.js';

const packageVersion = ((): string => {
  try {
    const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return packageJson.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/** The version of this Warren build. */
export const WARREN_VERSION = packageVersion;

/** Builds the server-properties table, capabilities included. */
export function serverProperties(): FieldTable {
  return {
    product: 'Warren',
    version: WARREN_VERSION,
    platform: `Node.js ${process.version}`,
    copyright: 'Copyright (c) the Warren authors',
    information: 'Licensed under the MIT license',
    cluster_name: 'warren',
    capabilities: {
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      'basic.nack': true,
      consumer_cancel_notify: true,
      'connection.blocked': true,
      consumer_priorities: false,
      authentication_failure_close: true,
      per_consumer_qos: true,
      direct_reply_to: false,
    },
  };
}
