/**
 * The `warren` command line: `warren server` runs a node. Every option can also come from a
 * WARREN_* environment variable; the command line wins.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS, type LogLevel } from '../config/config.js';
import { startWarren } from '../main.js';
import { createLogger } from '../util/logger.js';
import { WARREN_VERSION } from '../server/server-properties.js';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be a port number 0..65535');
  return port;
}

const program = new Command('warren').description('Warren: an AMQP 0-9-1 message broker').version(WARREN_VERSION);

program
  .command('server')
  .description('run a broker node')
  .addOption(new Option('--amqp-port <port>', 'AMQP listener port').env('WARREN_AMQP_PORT').default(5672).argParser(parsePort))
  .addOption(new Option('--http-port <port>', 'HTTP port (reserved for the management API)').env('WARREN_HTTP_PORT').default(15672).argParser(parsePort))
  .addOption(new Option('--bind <address>', 'address to listen on').env('WARREN_BIND').default('0.0.0.0'))
  .addOption(new Option('--data-dir <path>', 'data directory').env('WARREN_DATA_DIR').default('./data'))
  .addOption(new Option('--log-level <level>', 'log level').env('WARREN_LOG_LEVEL').default('info').choices(LOG_LEVELS))
  .action(async (options: { amqpPort: number; httpPort: number; bind: string; dataDir: string; logLevel: LogLevel }) => {
    const logger = createLogger(options.logLevel);
    const node = await startWarren(options, logger);
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      node.close().then(() => process.exit(0), (error: unknown) => {
        logger.error({ error: String(error) }, 'shutdown failed');
        process.exit(1);
      });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
