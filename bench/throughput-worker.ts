// One side (producer or consumer) of the throughput benchmark, run as its own process by
// bench/throughput.ts so that client work on the two sides can use both cores.
// Talks to its parent over the IPC channel: sends `ready`, answers `mark` with its message count
// and a timestamp, and exits on `stop`.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { openConnection, type ClientName, type ConsumeOptions } from './clients.js';

/** Configuration the parent passes as the first argument, JSON-encoded. */
export interface ThroughputWorkerConfig {
  /** Which side this process plays. */
  readonly role: 'producer' | 'consumer';
  /** Client library to use. */
  readonly client: ClientName;
  /** Broker URL. */
  readonly url: string;
  /** Queue to publish to or consume from (already declared by the parent). */
  readonly queue: string;
  /** Body size of each published message, in bytes. */
  readonly messageSizeBytes: number;
  /** Consumer acknowledgement settings. */
  readonly consume: ConsumeOptions;
}

/** Messages from parent to worker. */
export type ToWorker = { readonly type: 'mark' } | { readonly type: 'stop' };

/** Messages from worker to parent. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'mark'; readonly count: number; readonly atNs: string }
  | { readonly type: 'error'; readonly message: string };

function send(message: FromWorker): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ThroughputWorkerConfig;
  const connection = await openConnection(config.client, config.url);
  let count = 0;
  let running = true;

  // If the parent benchmark dies, so do we.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: ToWorker) => {
    if (message.type === 'mark') {
      send({ type: 'mark', count, atNs: process.hrtime.bigint().toString() });
    } else {
      running = false;
      // A broker that stopped reading must not hold us: close if we can, leave regardless.
      setTimeout(() => process.exit(0), 3000);
      connection.close().then(
        () => process.exit(0),
        () => process.exit(0),
      );
    }
  });

  if (config.role === 'consumer') {
    await connection.consume(config.queue, config.consume, () => {
      count++;
    });
    send({ type: 'ready' });
    return;
  }

  const body = Buffer.alloc(config.messageSizeBytes, 0x61);
  send({ type: 'ready' });
  // Publish as fast as the socket accepts; yield to the event loop regularly so that IPC marks,
  // inbound frames (connection.blocked, heartbeats) and socket writes get their turn.
  while (running) {
    let writable = true;
    for (let i = 0; i < 1000 && writable; i++) {
      writable = connection.publish(config.queue, body);
      count++;
    }
    if (!writable) await connection.waitWritable();
    else await yieldToEventLoop();
  }
}

main().catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
