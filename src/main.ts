/**
 * Composition root: config -> storage -> broker -> AMQP server. HTTP and metrics join in later issues.
 */
import { mkdir } from 'node:fs/promises';
import { Broker } from './broker/broker.js';
import type { FlowControlPolicy } from './broker/publisher-throttle.js';
import { resolveConfig, type WarrenConfig, type WarrenConfigInput } from './config/config.js';
import type { MessageStore, Persistence } from './broker/ports.js';
import { DiskMonitor } from './server/disk-monitor.js';
import { AmqpListener } from './server/listener.js';
import { openStorage, type Storage } from './storage/index.js';
import { EventLoopLoad } from './util/event-loop-load.js';
import { createLogger, type Logger } from './util/logger.js';

/** How often the event-loop load is sampled and paused publishers check their queue's progress. */
const FLOW_CONTROL_SAMPLE_MS = 100;
/** How often free disk space is checked (and a failing message store probed). */
const DISK_CHECK_MS = 2000;

/** A running Warren node. */
export interface WarrenNode {
  /** The resolved configuration the node runs with. */
  readonly config: WarrenConfig;
  /** The port the AMQP listener is bound to (useful when configured with port 0). */
  readonly amqpPort: number;
  /** The node's broker state. */
  readonly broker: Broker;
  /** Closes every connection with 320 CONNECTION_FORCED, stops listening, flushes storage and releases the data directory. */
  close(): Promise<void>;
}

/** Starts a Warren node with the given settings (unset ones take their defaults). */
export async function startWarren(input: WarrenConfigInput = {}, logger?: Logger): Promise<WarrenNode> {
  const config = resolveConfig(input);
  const log = logger ?? createLogger(config.logLevel);
  await mkdir(config.dataDir, { recursive: true });
  const storage = openStorage(config.dataDir, { logger: log });
  const load = new EventLoopLoad().start(FLOW_CONTROL_SAMPLE_MS);
  let disk: DiskMonitor | undefined;
  try {
    const persistence: Persistence = {
      definitions: storage.definitions,
      messages: reportingStoreErrors(storage.messages, (error) => disk?.storeResult(error)),
    };
    const broker = new Broker(config, flowControlPolicy(config, load), persistence, log);
    disk = new DiskMonitor({
      dataDir: config.dataDir, freeLimitBytes: config.limits.diskFreeLimitBytes, intervalMs: DISK_CHECK_MS,
      alarms: broker.alarms, logger: log, probeStore: (done) => storage.messages.sync(done),
    }).start();
    broker.restore();
    removeOrphanQueueFiles(broker, storage, log);
    const listener = new AmqpListener(broker, config.limits, log);
    const amqpPort = await listener.listen(config.amqpPort, config.bind);
    log.info({ amqpPort, bind: config.bind, dataDir: config.dataDir }, 'warren started');
    let closing: Promise<void> | undefined;
    const close = async (): Promise<void> => {
      await listener.close();
      broker.stop();
      load.stop();
      disk?.stop();
      await storage.close();
      log.info({}, 'warren stopped');
    };
    return { config, amqpPort, broker, close: () => (closing ??= close()) };
  } catch (error) {
    load.stop();
    disk?.stop();
    await storage.close();
    throw error;
  }
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
