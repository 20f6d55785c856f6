/**
 * A real webhook receiver for tests: a node:http server on an ephemeral loopback port that records
 * every request (headers, raw body, when it came) and answers with the next status of a script
 * (the last one repeats), so a test can make it fail a few times before it accepts.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got. */
export interface ReceivedWebhook {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as received. */
  rawBody: string;
  receivedAt: number;
  /** The status it was answered with. */
  answeredWith: number;
}

/** A running receiver. */
export interface WebhookReceiver {
  /** http://127.0.0.1:PORT/hooks/warren */
  url: string;
  received: ReceivedWebhook[];
  close(): Promise<void>;
}

/** Starts a receiver answering the statuses in `script` in turn (then the last one forever). */
export async function startWebhookReceiver(script: readonly number[] = [200], path = '/hooks/warren'): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const status = script[Math.min(received.length, script.length - 1)] ?? 200;
      received.push({
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        rawBody: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
        answeredWith: status,
      });
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
