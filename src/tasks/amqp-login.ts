/**
 * Checking a username and password against an AMQP 0-9-1 broker by logging in with them: the broker's
 * own users, passwords and vhost permissions decide (RabbitMQ's internal users, LDAP, whatever it is
 * configured with). The standalone keeper's HTTP gateway authenticates requests this way.
 */
import { AMQPClient } from '@cloudamqp/amqp-client';

/** How a login attempt ended. */
export type AmqpLoginOutcome =
  | { outcome: 'accepted' }
  /** The broker refused the credentials (403 ACCESS_REFUSED). */
  | { outcome: 'refused'; reason: string }
  /** The credentials are right but the user may not use the vhost (530 NOT_ALLOWED on connection.open). */
  | { outcome: 'vhostRefused'; reason: string }
  /** The broker could not be asked (unreachable, timed out, closed for another reason). */
  | { outcome: 'unavailable'; reason: string };

/** How the client reports the broker's close of a refused login, and of a refused vhost. */
const REFUSED_REPLY = /\(403\)$/;
const VHOST_REFUSED_REPLY = /\(530\)$/;

/**
 * Logs in to the broker and vhost of `brokerUrl` as `username`/`password`, then closes the connection.
 * An empty username or password is refused without asking: the AMQP client would replace it with
 * 'guest', which must never let a request in.
 */
export async function checkAmqpLogin(brokerUrl: string, credentials: { username: string; password: string }, timeoutMs: number): Promise<AmqpLoginOutcome> {
  const { username, password } = credentials;
  if (username === '' || password === '') return { outcome: 'refused', reason: 'empty username or password' };
  const url = new URL(brokerUrl);
  // Percent-encoded here, so the client's decodeURIComponent gives back exactly what was sent.
  url.username = encodeURIComponent(username);
  url.password = encodeURIComponent(password);
  url.searchParams.set('name', 'warren keeper HTTP login check');
  const client = new AMQPClient(url.toString());
  client.onerror = () => {};
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const connecting = client.connect();
  try {
    const connected = await Promise.race([connecting.then(() => 'open' as const), timedOut]);
    if (connected === 'timeout') {
      // Give up on the attempt: drop the socket, and close the connection should it open after all.
      connecting.then(() => client.close(), () => {}).catch(() => {});
      client.socket?.destroy();
      return { outcome: 'unavailable', reason: `no answer from the broker within ${timeoutMs} ms` };
    }
    await client.close().catch(() => {});
    return { outcome: 'accepted' };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    client.socket?.destroy();
    if (REFUSED_REPLY.test(reason)) return { outcome: 'refused', reason };
    if (VHOST_REFUSED_REPLY.test(reason)) return { outcome: 'vhostRefused', reason };
    return { outcome: 'unavailable', reason };
  } finally {
    clearTimeout(timer);
  }
}

