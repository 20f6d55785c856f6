/**
 * SASL mechanisms offered in connection.start: PLAIN (RFC 4616) and RabbitMQ's AMQPLAIN.
 */

/** Mechanisms advertised, in RabbitMQ's order. */
export const MECHANISMS = ['PLAIN', 'AMQPLAIN'] as const;

/** Credentials extracted from a connection.start-ok response. */
export interface Credentials {
  username: string;
  password: string;
}

/** Parses a start-ok response for a mechanism; returns undefined for an unknown mechanism or a malformed response. */
export function parseCredentials(mechanism: string, response: Buffer): Credentials | undefined {
  if (mechanism === 'PLAIN') return parsePlain(response);
  if (mechanism === 'AMQPLAIN') return parseAmqplain(response);
  return undefined;
}

function parsePlain(response: Buffer): Credentials | undefined {
  // authzid NUL authcid NUL passwd; the authorization identity is ignored, as RabbitMQ does.
  const first = response.indexOf(0);
  if (first < 0) return undefined;
  const second = response.indexOf(0, first + 1);
  if (second < 0) return undefined;
  return {
    username: response.subarray(first + 1, second).toString('utf8'),
    password: response.subarray(second + 1).toString('utf8'),
  };
}

/**
 * AMQPLAIN's response is a field table without its length prefix holding LOGIN and PASSWORD as
 * long strings. Only the shortstr-key / 'S' value shape is accepted; anything else is malformed.
 */
function parseAmqplain(response: Buffer): Credentials | undefined {
  const fields = new Map<string, string>();
  let offset = 0;
  while (offset < response.length) {
    const keyLength = response[offset];
    if (keyLength === undefined || offset + 1 + keyLength + 5 > response.length) return undefined;
    const key = response.toString('utf8', offset + 1, offset + 1 + keyLength);
    offset += 1 + keyLength;
    if (response[offset] !== 0x53) return undefined;
    const valueLength = response.readUInt32BE(offset + 1);
    offset += 5;
    if (offset + valueLength > response.length) return undefined;
    fields.set(key, response.toString('utf8', offset, offset + valueLength));
    offset += valueLength;
  }
  const username = fields.get('LOGIN');
  const password = fields.get('PASSWORD');
  return username === undefined || password === undefined ? undefined : { username, password };
}
