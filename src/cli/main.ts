/**
 * The `warren` command line: `warren server` runs a node, `warren worker <module>` runs the task
 * handlers a module exports, `warren keeper` runs the result keeper and HTTP task gateway against
 * any AMQP broker, `warren ctl` manages a running node over HTTP. Every option can also come from a
 * WARREN_* environment variable; the command line wins.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS, type LogLevel } from '../config/config.js';
import { startWarren } from '../main.js';
import { createLogger } from '../util/logger.js';
import { WARREN_VERSION } from '../server/server-properties.js';
import { runWorker } from './worker.js';
import { runKeeper, type KeeperCommandOptions } from './keeper.js';
import { registerCtlCommand } from './ctl.js';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be a port number 0..65535');
  return port;
}

function parseCount(value: string): number {
  const count = Number(value);
  if (!Number.isSafeInteger(count) || count < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return count;
}

function parseAmqpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('must be an amqp:// or amqps:// URL');
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') throw new InvalidArgumentError('must be an amqp:// or amqps:// URL');
  return value;
}

/** What `warren server` is given, from flags and the environment. */
interface ServerOptions {
  amqpPort: number;
  httpPort: number;
  bind: string;
  dataDir: string;
  logLevel: LogLevel;
  taskKeeper: boolean;
  taskRetentionMs?: number;
}

function parsePositiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError('must be a positive integer');
  return number;
}

// Positional options: a subcommand's options are its own, so `warren ctl --password X users add bob
// --password Y` logs in with X and gives bob Y.
const program = new Command('warren').description('Warren: an AMQP 0-9-1 message broker').version(WARREN_VERSION).enablePositionalOptions();

program
  .command('server')
  .description('run a broker node')
  .addOption(new Option('--amqp-port <port>', 'AMQP listener port').env('WARREN_AMQP_PORT').default(5672).argParser(parsePort))
  .addOption(new Option('--http-port <port>', 'HTTP port (management API, task gateway)').env('WARREN_HTTP_PORT').default(15672).argParser(parsePort))
  .addOption(new Option('--bind <address>', 'address to listen on').env('WARREN_BIND').default('0.0.0.0'))
  .addOption(new Option('--data-dir <path>', 'data directory').env('WARREN_DATA_DIR').default('./data'))
  .addOption(new Option('--log-level <level>', 'log level').env('WARREN_LOG_LEVEL').default('info').choices(LOG_LEVELS))
  .addOption(new Option('--no-task-keeper', 'run no task result keeper in this node (the HTTP task gateway asks one elsewhere)').env('WARREN_NO_TASK_KEEPER'))
  .addOption(new Option('--task-retention-ms <ms>', 'how long finished tasks are kept').env('WARREN_TASK_RETENTION_MS').argParser(parseCount))
  .action(async (options: ServerOptions) => {
    const logger = createLogger(options.logLevel);
    const { taskKeeper, taskRetentionMs, ...settings } = options;
    const tasks = { keeperEnabled: taskKeeper, ...(taskRetentionMs === undefined ? {} : { retentionMs: taskRetentionMs }) };
    const node = await startWarren({ ...settings, tasks }, logger);
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

program
  .command('worker')
  .description('run the task handlers a module exports (named exports or a default export object of functions)')
  .argument('<module>', 'path of the handler module, resolved from the working directory')
  .addOption(new Option('--url <url>', 'AMQP URL of the broker').env('WARREN_URL').default('amqp://guest:guest@127.0.0.1:5672'))
  .addOption(new Option('--concurrency <n>', 'handlers running at once').env('WARREN_WORKER_CONCURRENCY').default(1).argParser(parsePositiveInteger))
  .addOption(new Option('--shutdown-timeout-ms <ms>', 'on SIGTERM/SIGINT, how long running handlers may finish before they are requeued')
    .env('WARREN_WORKER_SHUTDOWN_TIMEOUT_MS').default(10_000).argParser(parsePositiveInteger))
  .addOption(new Option('--log-level <level>', 'log level').env('WARREN_LOG_LEVEL').default('info').choices(LOG_LEVELS))
  .action(async (modulePath: string, options: { url: string; concurrency: number; shutdownTimeoutMs: number; logLevel: LogLevel }) => {
    const logger = createLogger(options.logLevel);
    await runWorker(modulePath, { url: options.url, concurrency: options.concurrency, shutdownTimeoutMs: options.shutdownTimeoutMs }, logger);
  });

program
  .command('keeper')
  .description('run the task result keeper and the HTTP task gateway (task routes, /metrics) against any AMQP 0-9-1 broker')
  .addOption(new Option('--amqp <url>', 'AMQP URL of the broker and vhost, with the keeper\'s credentials').env('WARREN_AMQP_URL').argParser(parseAmqpUrl).makeOptionMandatory())
  .addOption(new Option('--store <url>', 'result store: postgres://... or sqlite:PATH').env('WARREN_STORE').makeOptionMandatory())
  .addOption(new Option('--http-port <port>', 'HTTP port of the task gateway').env('WARREN_HTTP_PORT').default(15672).argParser(parsePort))
  .addOption(new Option('--http-host <address>', 'address the HTTP gateway listens on').env('WARREN_HTTP_HOST').default('0.0.0.0'))
  .addOption(new Option('--task-retention-ms <ms>', 'how long finished tasks are kept').env('WARREN_TASK_RETENTION_MS').argParser(parseCount))
  .addOption(new Option('--webhook-key-file <path>', 'file with the key webhook secrets derive from (created if missing; give every keeper the same one)').env('WARREN_WEBHOOK_KEY_FILE'))
  .addOption(new Option('--log-level <level>', 'log level').env('WARREN_LOG_LEVEL').default('info').choices(LOG_LEVELS))
  .action(async (options: KeeperCommandOptions & { logLevel: LogLevel }) => {
    const { logLevel, ...keeperOptions } = options;
    await runKeeper(keeperOptions, createLogger(logLevel));
  });

registerCtlCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
