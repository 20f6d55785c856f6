/**
 * Starts the broker a test talks to: Warren in-process on an ephemeral port with a temporary data
 * directory, or, when WARREN_TEST_URL is set (for example amqp://guest:guest@127.0.0.1:5673), an
 * external broker such as RabbitMQ, so the same test can check that Warren behaves as RabbitMQ does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WarrenConfigInput } from '../../src/config/config.js';
import { startWarren } from '../../src/main.js';

/** A broker under test. */
export interface TestBroker {
  /** amqp://guest:guest@host:port URL of the broker. */
  url: string;
  host: string;
  port: number;
  /** True when the broker is an external one named by WARREN_TEST_URL. */
  external: boolean;
  /** Stops the in-process broker and removes its data directory (no-op for an external broker). */
  close(): Promise<void>;
}

/** Starts a fresh in-process Warren (or returns the external broker named by WARREN_TEST_URL). */
export async function startTestBroker(options: WarrenConfigInput = {}): Promise<TestBroker> {
  const externalUrl = process.env['WARREN_TEST_URL'];
  if (externalUrl !== undefined && externalUrl !== '') {
    const parsed = new URL(externalUrl);
    return {
      url: externalUrl,
      host: parsed.hostname,
      port: Number(parsed.port || 5672),
      external: true,
      close: async () => {},
    };
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-test-'));
  // No in-process task keeper unless asked for: it would compete with a test's own keeper for task
  // events, and its queues would show up among the test's.
  const node = await startWarren({
    amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', ...options,
    tasks: { keeperEnabled: false, ...options.tasks },
  });
  return {
    url: `amqp://guest:guest@127.0.0.1:${node.amqpPort}`,
    host: '127.0.0.1',
    port: node.amqpPort,
    external: false,
    close: async () => {
      await node.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
