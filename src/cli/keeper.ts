/**
 * `warren keeper`: runs the result keeper and the HTTP task gateway against any AMQP 0-9-1 broker
 * until SIGTERM or SIGINT, which stop it gracefully (events being recorded are finished first).
 */
import { startKeeperNode } from '../keeper-node.js';
import type { Logger } from '../util/logger.js';

/** Options of `warren keeper`, from flags and the environment. */
export interface KeeperCommandOptions {
  amqp: string;
  store: string;
  httpPort: number;
  httpHost: string;
  taskRetentionMs?: number;
  webhookKeyFile?: string;
}

/** Starts the keeper node and installs the signal handlers that stop it; the process then exits. */
export async function runKeeper(options: KeeperCommandOptions, logger: Logger): Promise<void> {
  const node = await startKeeperNode({
    amqpUrl: options.amqp,
    storeUrl: options.store,
    httpPort: options.httpPort,
    httpHost: options.httpHost,
    ...(options.taskRetentionMs === undefined ? {} : { retentionMs: options.taskRetentionMs }),
    ...(options.webhookKeyFile === undefined ? {} : { webhookKeyFile: options.webhookKeyFile }),
    logger,
  }).catch((error: unknown) => {
    throw new Error(`warren keeper could not start: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'keeper shutting down');
    node.close().then(() => process.exit(0), (error: unknown) => {
      logger.error({ error: String(error) }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
