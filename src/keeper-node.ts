/**
 * Composition root of `warren keeper`: the result keeper and the HTTP task gateway (task routes and
 * /metrics) without a Warren broker, against any AMQP 0-9-1 broker (RabbitMQ without plugins) with a
 * PostgreSQL or SQLite result store. HTTP requests authenticate by logging in to that broker.
 * Several keepers may share one PostgreSQL store: they compete for the same keeper queues, and the
 * store applies events with compare-and-set.
 */
import { DEFAULT_LIMITS, DEFAULT_TASKS_CONFIG } from './config/config.js';
import { AmqpLoginAuthenticator, type AmqpLoginAuthenticatorOptions } from './http/amqp-login-authenticator.js';
import { startHttpServer } from './http/server.js';
import { taskLayerBackend } from './http/task-layer-backend.js';
import { taskMetricsCollector } from './http/task-metrics-collector.js';
import { taskView } from './http/task-view.js';
import { MetricsRegistry } from './metrics/registry.js';
import { connectTasks } from './tasks/client.js';
import { startKeeper } from './tasks/keeper.js';
import { loadWebhookSigningKey } from './tasks/webhooks/webhook-endpoint.js';
import { PostgresResultStore } from './tasks/store/postgres-store.js';
import type { ResultStore } from './tasks/store/result-store.js';
import { ThreadedResultStore } from './tasks/store/threaded-store.js';
import type { Logger } from './util/logger.js';

/** What `warren keeper` runs with. */
export interface KeeperNodeOptions {
  /** The AMQP broker and vhost the task layer uses, with the keeper's own credentials. */
  amqpUrl: string;
  /** `postgres://...` (or `postgresql://`) or `sqlite:PATH`. */
  storeUrl: string;
  /** HTTP port of the gateway; 0 picks a free one. */
  httpPort: number;
  /** Address the gateway listens on. */
  httpHost: string;
  /** How long finished tasks are kept (default 7 days). */
  retentionMs?: number;
  /**
   * File holding the key webhook endpoint secrets derive from (created, mode 0600, if missing). Keepers
   * sharing a store must share it, or each signs with other secrets. Without it each start makes a new
   * key (and logs a warning): receivers' secrets would change at every restart.
   */
  webhookKeyFile?: string;
  /** Tuning of the HTTP login checks against the broker (caching, concurrency, loopback-only users). */
  login?: Omit<AmqpLoginAuthenticatorOptions, 'brokerUrl'>;
  logger: Logger;
}

/** A running standalone keeper. */
export interface KeeperNode {
  /** The port the HTTP gateway listens on. */
  readonly httpPort: number;
  /** Stops the HTTP server, the gateway's client and the keeper (letting events being recorded finish), then the store. */
  close(): Promise<void>;
}

/** Opens the result store a `--store` URL names; anything but postgres:// and sqlite: is refused. */
export async function openKeeperStore(storeUrl: string): Promise<ResultStore> {
  if (/^postgres(ql)?:\/\//i.test(storeUrl)) return PostgresResultStore.open(storeUrl);
  const sqlite = /^sqlite:(?:\/\/)?(.+)$/i.exec(storeUrl);
  if (sqlite?.[1] !== undefined) return new ThreadedResultStore(sqlite[1]);
  throw new Error(`--store must be postgres://... or sqlite:PATH, got ${JSON.stringify(storeUrl.replace(/\/\/[^@/]*@/, '//***@'))}`);
}

/** Starts the keeper and its HTTP gateway; resolves once both run. */
export async function startKeeperNode(options: KeeperNodeOptions): Promise<KeeperNode> {
  const { logger } = options;
  const steps: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const step of steps.splice(0).reverse()) await step().catch((error: unknown) => logger.error({ error: String(error) }, 'a shutdown step failed'));
  };
  try {
    const store = await openKeeperStore(options.storeUrl);
    steps.push(() => store.close());
    const signingKey = options.webhookKeyFile === undefined ? undefined : await loadWebhookSigningKey(options.webhookKeyFile);
    const keeper = await startKeeper({
      url: options.amqpUrl, store, retentionMs: options.retentionMs ?? DEFAULT_TASKS_CONFIG.retentionMs, logger,
      webhooks: { view: taskView, ...(signingKey === undefined ? {} : { signingKey }) },
    });
    steps.push(() => keeper.close());
    const client = connectTasks({ url: options.amqpUrl, logger: logger.child({ component: 'task-gateway' }) });
    steps.push(() => client.close());
    const http = await startHttpServer({
      port: options.httpPort,
      bind: options.httpHost,
      users: new AmqpLoginAuthenticator({ ...options.login, brokerUrl: options.amqpUrl }),
      tasks: taskLayerBackend(client, keeper, client),
      bodySizeMaxBytes: DEFAULT_LIMITS.httpBodySizeMaxBytes,
      metrics: new MetricsRegistry().register(taskMetricsCollector(keeper)),
      logger,
    });
    steps.push(() => http.close());
    logger.info({ httpPort: http.port, httpHost: options.httpHost, broker: withoutCredentials(options.amqpUrl) }, 'warren keeper started');
    let closing: Promise<void> | undefined;
    return { httpPort: http.port, close: () => (closing ??= stop().then(() => logger.info({}, 'warren keeper stopped'))) };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A URL fit for a log line: its password replaced. */
function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}
