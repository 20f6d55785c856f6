/**
 * Composition root: config -> broker -> AMQP server. Storage, HTTP and metrics join in later issues.
 */
import { mkdir } from 'node:fs/promises';
import { Broker } from './broker/broker.js';
import { resolveConfig, type WarrenConfig, type WarrenConfigInput } from './config/config.js';
import { AmqpListener } from './server/listener.js';
import { EventLoopLoad } from './util/event-loop-load.js';
import { createLogger, type Logger } from './util/logger.js';

/** How often the event-loop load is sampled and paused publishers check their queue's progress. */
const FLOW_CONTROL_SAMPLE_MS = 100;

/** A running Warren node. */
export interface WarrenNode {
  /** The resolved configuration the node runs with. */
  readonly config: WarrenConfig;
  /** The port the AMQP listener is bound to (useful when configured with port 0). */
  readonly amqpPort: number;
  /** The node's broker state. */
  readonly broker: Broker;
  /** Closes every connection with 320 CONNECTION_FORCED, stops listening and releases resources. */
  close(): Promise<void>;
}

/** Starts a Warren node with the given settings (unset ones take their defaults). */
export async function startWarren(input: WarrenConfigInput = {}, logger?: Logger): Promise<WarrenNode> {
  const config = resolveConfig(input);
  const log = logger ?? createLogger(config.logLevel);
  await mkdir(config.dataDir, { recursive: true });
  const load = new EventLoopLoad().start(FLOW_CONTROL_SAMPLE_MS);
  const { queueBacklogHighWaterMessages, flowControlBusyUtilization } = config.limits;
  const broker = new Broker(config, {
    backlogHighWaterMessages: queueBacklogHighWaterMessages,
    backlogLowWaterMessages: Math.floor(queueBacklogHighWaterMessages / 2),
    progressCheckMs: FLOW_CONTROL_SAMPLE_MS,
    isBusy: () => load.utilization >= flowControlBusyUtilization,
  });
  const listener = new AmqpListener(broker, config.limits, log);
  const amqpPort = await listener.listen(config.amqpPort, config.bind);
  log.info({ amqpPort, bind: config.bind, dataDir: config.dataDir }, 'warren started');
  let closing: Promise<void> | undefined;
  return {
    config,
    amqpPort,
    broker,
    close: () => {
      closing ??= listener.close().then(() => {
        load.stop();
        log.info({}, 'warren stopped');
      });
      return closing;
    },
  };
}
