/**
 * Composition root: config -> storage -> broker -> AMQP listener -> task keeper and client -> HTTP
 * server. Shutdown runs the same steps in reverse.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Broker } from './broker/broker.js';
import { isLoopbackAddress } from './broker/users.js';
import type { FlowControlPolicy } from './broker/publisher-throttle.js';
import { resolveConfig, type WarrenConfig, type WarrenConfigInput } from './config/config.js';
import type { MessageStore, Persistence } from './broker/ports.js';
import { brokerMetricsCollector, type ManagementBackend } from './http/management/index.js';
import { startHttpServer } from './http/server.js';
import { taskMetricsCollector } from './http/task-metrics-collector.js';
import { MetricsRegistry } from './metrics/registry.js';
import type { TaskGatewayBackend } from './http/task-backend.js';
import { TASKS_VHOST } from './http/task-gateway.js';
import { taskLayerBackend } from './http/task-layer-backend.js';
import { loadWebhookSigningKey } from './tasks/webhooks/webhook-endpoint.js';
import { connectTasks } from './tasks/client.js';
import { ThreadedKeeper } from './threaded-keeper.js';
import { DiskMonitor } from './server/disk-monitor.js';
import { AmqpListener } from './server/listener.js';
import { WARREN_VERSION } from './server/server-properties.js';
import { openStorage, type Storage } from './storage/index.js';
import { EventLoopLoad } from './util/event-loop-load.js';
import { createLogger, type Logger } from './util/logger.js';

/** How often the event-loop load is sampled and paused publishers check their queue's progress. */
const FLOW_CONTROL_SAMPLE_MS = 100;
/** The file in the data directory holding the key webhook endpoint secrets are derived from (mode 0600). */
const WEBHOOK_SIGNING_KEY_FILE = 'webhook-signing-key';
/** How often free disk space is checked (and a failing message store probed). */
const DISK_CHECK_MS = 2000;

/** A running Warren node. */
export interface WarrenNode {
  /** The resolved configuration the node runs with. */
  readonly config: WarrenConfig;
  /** The port the AMQP listener is bound to (useful when configured with port 0). */
  readonly amqpPort: number;
  /** The port the HTTP server (management API, task gateway) is bound to. */
  readonly httpPort: number;
  /** The node's broker state. */
  readonly broker: Broker;
  /**
   * Stops the HTTP server and the task keeper, closes every AMQP connection with 320 CONNECTION_FORCED,
   * stops listening, flushes storage and releases the data directory.
   */
  close(): Promise<void>;
}

/** One step of shutting a node down; the steps run in the reverse of the order they were added. */
type ShutdownStep = () => Promise<void> | void;

/** Starts a Warren node with the given settings (unset ones take their defaults). */
export async function startWarren(input: WarrenConfigInput = {}, logger?: Logger): Promise<WarrenNode> {
  const config = resolveConfig(input);
  const log = logger ?? createLogger(config.logLevel);
  await mkdir(config.dataDir, { recursive: true });
  const storage = openStorage(config.dataDir, { logger: log });
  const shutdown: ShutdownStep[] = [() => storage.close()];
  let disk: DiskMonitor | undefined;
  try {
    const load = new EventLoopLoad().start(FLOW_CONTROL_SAMPLE_MS);
    shutdown.push(() => load.stop());
    const persistence: Persistence = {
      definitions: storage.definitions,
      messages: reportingStoreErrors(storage.messages, (error) => disk?.storeResult(error)),
    };
    const broker = new Broker(config, flowControlPolicy(config, load), persistence, log);
    shutdown.push(() => broker.stop());
    disk = new DiskMonitor({
      dataDir: config.dataDir, freeLimitBytes: config.limits.diskFreeLimitBytes, intervalMs: DISK_CHECK_MS,
      alarms: broker.alarms, logger: log, probeStore: (done) => storage.messages.sync(done),
    }).start();
    shutdown.push(() => disk?.stop());
    broker.restore();
    removeOrphanQueueFiles(broker, storage, log);
    const listener = new AmqpListener(broker, config.limits, log);
    const amqpPort = await listener.listen(config.amqpPort, config.bind);
    shutdown.push(() => listener.close());
    const tasks = await startTaskServices(config, broker, amqpPort, log);
    if (tasks !== undefined) shutdown.push(() => tasks.close());
    let httpPort = config.httpPort;
    const management: ManagementBackend = {
      broker, nodeName: `warren@${hostname()}`, version: WARREN_VERSION, startedAt: Date.now(),
      listeners: () => [
        { protocol: 'amqp', ipAddress: config.bind, port: amqpPort },
        { protocol: 'http', ipAddress: config.bind, port: httpPort },
      ],
      connections: () => listener.connectionInfos(),
      closeConnection: (name, reason) => listener.closeConnection(name, reason),
      unackedMessages: (queue) => listener.unackedMessages(queue),
      requeueUnacked: (queue, sequence) => listener.requeueUnacked(queue, sequence),
      oldestUnackedByQueue: () => listener.oldestUnackedByQueue(),
    };
    const metrics = new MetricsRegistry().register(brokerMetricsCollector(management));
    if (tasks?.keeper !== undefined) metrics.register(taskMetricsCollector(tasks.keeper));
    const http = await startHttpServer({
      port: config.httpPort, bind: config.bind, users: broker.users, tasks: tasks?.backend, management,
      bodySizeMaxBytes: config.limits.httpBodySizeMaxBytes, metrics, logger: log,
    });
    httpPort = http.port;
    shutdown.push(() => http.close());
    log.info({ amqpPort, httpPort: http.port, bind: config.bind, dataDir: config.dataDir }, 'warren started');
    let closing: Promise<void> | undefined;
    const close = async (): Promise<void> => {
      await runShutdown(shutdown, log);
      log.info({}, 'warren stopped');
    };
    return { config, amqpPort, httpPort: http.port, broker, close: () => (closing ??= close()) };
  } catch (error) {
    // The start failure is what the caller needs to see; a failing cleanup step is only logged.
    await runShutdown(shutdown, log).catch(() => {});
    throw error;
  }
}

/** Runs the shutdown steps newest first; a failing step does not stop the rest, and the first failure is rethrown. */
async function runShutdown(steps: ShutdownStep[], log: Logger): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (const step of steps.splice(0).reverse()) {
    try {
      await step();
    } catch (error) {
      log.error({ error: String(error) }, 'a shutdown step failed');
      failure ??= { error };
    }
  }
  if (failure !== undefined) throw failure.error;
}

/** The node's own task layer: the HTTP gateway's backend, and how to stop it. */
interface TaskServices {
  backend: TaskGatewayBackend;
  /** The node's result keeper (in a worker thread), when it runs one (its metrics go to /metrics). */
  keeper?: ThreadedKeeper;
  close(): Promise<void>;
}

/**
 * Starts the node's task layer: a TasksClient the HTTP gateway submits with and, unless disabled, a
 * result keeper with a SQLite store in the data directory. Both connect to the node's own AMQP
 * listener over loopback as an internal user (in memory only, random password, loopback only).
 * Undefined when they could not reach the listener over loopback, or the tasks vhost does not exist.
 */
async function startTaskServices(config: WarrenConfig, broker: Broker, amqpPort: number, log: Logger): Promise<TaskServices | undefined> {
  const host = loopbackHostFor(config.bind);
  if (host === undefined || !broker.vhosts.has(TASKS_VHOST)) {
    log.warn({ bind: config.bind, vhost: TASKS_VHOST }, 'task keeper and HTTP task gateway off: they need a loopback or wildcard bind and the vhost');
    return undefined;
  }
  const username = `warren-internal-${randomBytes(4).toString('hex')}`;
  const password = randomBytes(24).toString('base64url');
  broker.users.addInternal(username, password, { [TASKS_VHOST]: { configure: '.*', write: '.*', read: '.*' } });
  const url = `amqp://${username}:${password}@${host}:${amqpPort}`;
  const client = connectTasks({ url, logger: log.child({ component: 'task-gateway' }) });
  if (!config.tasks.keeperEnabled) return { backend: taskLayerBackend(client, client, client), close: () => client.close() };
  try {
    const keeper = await ThreadedKeeper.start({
      url,
      storePath: join(config.dataDir, 'tasks.sqlite'),
      retentionMs: config.tasks.retentionMs,
      // Kept in the data directory so endpoint secrets survive restarts (docs/webhooks.md).
      signingKey: await loadWebhookSigningKey(join(config.dataDir, WEBHOOK_SIGNING_KEY_FILE)),
      ...(config.tasks.webhooks === undefined ? {} : { webhookPolicy: config.tasks.webhooks }),
      logLevel: config.logLevel,
    }, log);
    const close = async (): Promise<void> => {
      await client.close();
      await keeper.close();
    };
    return { backend: taskLayerBackend(client, keeper, client), keeper, close };
  } catch (error) {
    await client.close();
    throw error;
  }
}

/** The loopback address that reaches a listener bound to `bind`, or undefined when none does. */
function loopbackHostFor(bind: string): string | undefined {
  if (bind === '::' || bind === '::1') return '[::1]';
  if (bind === '0.0.0.0' || isLoopbackAddress(bind)) return '127.0.0.1';
  return undefined;
}

function flowControlPolicy(config: WarrenConfig, load: EventLoopLoad): FlowControlPolicy {
  const { queueBacklogHighWaterMessages, flowControlBusyUtilization } = config.limits;
  return {
    backlogHighWaterMessages: queueBacklogHighWaterMessages,
    backlogLowWaterMessages: Math.floor(queueBacklogHighWaterMessages / 2),
    progressCheckMs: FLOW_CONTROL_SAMPLE_MS,
    catchUpMs: config.limits.flowControlCatchUpMs,
    isBusy: () => load.utilization >= flowControlBusyUtilization,
  };
}

/** Passes every message store write round's outcome to `report` (the disk alarm watches for errors). */
function reportingStoreErrors(store: MessageStore, report: (error: Error | undefined) => void): MessageStore {
  return {
    openQueue: (vhost, name, bodiesInMemory) => store.openQueue(vhost, name, bodiesInMemory),
    openTransientQueue: (vhost, name) => store.openTransientQueue(vhost, name),
    sync: (onDurable) =>
      store.sync((error) => {
        report(error);
        onDurable(error);
      }),
    syncAppended: (onDurable) =>
      store.syncAppended((error) => {
        report(error);
        onDurable(error);
      }),
    close: () => store.close(),
  };
}

/** Message files of queues whose definition is gone (deleted just before a crash) are removed. */
function removeOrphanQueueFiles(broker: Broker, storage: Storage, log: Logger): void {
  for (const { vhost, name } of storage.messages.listQueues()) {
    if (broker.vhosts.get(vhost)?.queues.get(name)?.options.durable === true) continue;
    // A durable delayed exchange keeps its held messages in a store of its own (see broker/delay-scheduler.ts).
    if (broker.vhosts.get(vhost)?.delayedMessages.hasStore(name) === true) continue;
    log.warn({ vhost, queue: name }, 'removing message files of a queue that no longer exists');
    storage.messages.removeQueue(vhost, name);
  }
}
