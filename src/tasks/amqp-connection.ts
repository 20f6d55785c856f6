/**
 * Opening AMQP connections for the task layer (@cloudamqp/amqp-client), and a logger that drops
 * everything for callers that pass none.
 */
import { AMQPClient } from '@cloudamqp/amqp-client';
import type { Logger } from '../util/logger.js';

/** A logger that logs nothing. */
export const silentLogger: Logger = {
  error: () => {},
  warn: () => {},
  info: () => {},
  debug: () => {},
  child: () => silentLogger,
};

/**
 * Connects to `url`, naming the connection `connectionName` (shown by the broker's management API)
 * unless the URL already names it; with no Nagle delay (sendWithoutDelay).
 */
export async function openAmqpConnection(url: string, connectionName: string, logger: Logger): Promise<AMQPClient> {
  const named = new URL(url);
  if (!named.searchParams.has('name')) named.searchParams.set('name', connectionName);
  const connection = new AMQPClient(named.toString());
  connection.onerror = (error) => logger.debug({ err: error.message }, 'AMQP connection error');
  await connection.connect();
  sendWithoutDelay(connection);
  return connection;
}

/**
 * Turns the Nagle algorithm off on a connected client's socket (TCP_NODELAY), as RabbitMQ's clients do
 * (amqplib, pika, the Java client). amqp-client leaves it on, and then a small write made while an
 * earlier one is not yet acknowledged by the peer's TCP waits for that acknowledgement, which a quiet
 * peer delays by up to 40 ms: a keeper's last acks of a burst sat that long on its socket (the keeper
 * queue held its last messages unacknowledged for 40 ms after they were recorded), and so could a
 * worker's ack or a submitter's publish in any lull.
 */
export function sendWithoutDelay(connection: AMQPClient): void {
  connection.socket?.setNoDelay(true);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
