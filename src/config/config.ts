/**
 * Every setting and limit Warren has, parsed and defaulted in one place and passed down explicitly.
 * Defaults follow RabbitMQ's where RabbitMQ has one.
 */
import { totalmem } from 'node:os';

/** Log levels accepted by `--log-level` / WARREN_LOG_LEVEL. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** One of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Configure/write/read regular expressions for one user on one vhost, as in RabbitMQ. */
export interface Permission {
  configure: string;
  write: string;
  read: string;
}

/** A user that may authenticate over AMQP. */
export interface UserConfig {
  username: string;
  password: string;
  /** Management tags such as "administrator" (used by later HTTP issues). */
  tags: string[];
  /** Permissions by vhost name; a vhost absent here is not open to the user (530 NOT_ALLOWED). */
  permissions: Record<string, Permission>;
  /** When true the user may log in only from a loopback address (RabbitMQ's loopback_users). */
  loopbackOnly: boolean;
}

/** Limits that protect the broker from peers; exceeding one is a protocol error with a reply code. */
export interface Limits {
  /** Largest frame the server accepts and offers in connection.tune (bytes, >= 4096). */
  frameSizeMax: number;
  /** Highest channel number offered in connection.tune. */
  channelMax: number;
  /** Heartbeat interval offered in connection.tune (seconds, 0 disables). */
  heartbeatSeconds: number;
  /** Largest message body accepted (bytes); larger publishes close the channel with 406. */
  messageSizeMaxBytes: number;
  /** Time a new socket has to finish the handshake (protocol header through connection.open). */
  handshakeTimeoutMs: number;
  /** Most simultaneous client connections; further sockets are refused. */
  connectionsMax: number;
  /** Most consumers on one channel. */
  consumersPerChannelMax: number;
  /**
   * Longest a delivery may stay unacknowledged before its channel is closed with 406 and the message
   * requeued (RabbitMQ's consumer_timeout, 30 minutes by default); a queue's x-consumer-timeout overrides it.
   */
  consumerTimeoutMs: number;
  /** Bytes queued for a socket beyond which the broker stops delivering to it until it drains. */
  socketBufferHighWaterBytes: number;
  /**
   * Ready messages in a queue that has consumers beyond which the broker stops reading from the
   * connections publishing to it, until the backlog halves (flow control, like RabbitMQ's credit flow).
   */
  queueBacklogHighWaterMessages: number;
  /**
   * Event-loop utilization (0..1) from which the node counts as busy for publisher flow control;
   * 0 (the default) applies flow control whenever consumers are behind, above 1 disables it.
   */
  flowControlBusyUtilization: number;
  /** Flow control keeps a publisher paused only while the consumers would catch up within this time. */
  flowControlCatchUpMs: number;
  /**
   * Bytes of message bodies held in queues from which publishing connections are blocked
   * (connection.blocked) until consumers bring it back down. Default: 40% of the machine's memory,
   * RabbitMQ's default relative watermark.
   */
  memoryHighWatermarkBytes: number;
  /** Ready messages a queue keeps in memory; persistent messages beyond are read back from disk when their turn comes. */
  queueMemoryWindowMessages: number;
  /** Free space on the data directory's file system below which publishers are blocked (RabbitMQ's disk_free_limit). */
  diskFreeLimitBytes: number;
  /** Largest HTTP request body accepted (bytes); larger ones get 413 (RabbitMQ's management.http.max_body_size). */
  httpBodySizeMaxBytes: number;
}

/** The task layer a node runs in-process (the result keeper and the HTTP task gateway). */
export interface TasksConfig {
  /** When false the node runs no result keeper; the HTTP task gateway then asks one running elsewhere over AMQP. */
  keeperEnabled: boolean;
  /** How long a finished task's record is kept in the result store (ms). */
  retentionMs: number;
  /** Overrides of the keeper's webhook timeout and retry policy (docs/webhooks.md); unset fields keep its defaults. */
  webhooks?: { timeoutMs?: number; retryFirstDelayMs?: number; retryDelayMaxMs?: number; attemptsMax?: number; retryWindowMs?: number };
}

/** The whole configuration of one Warren node. */
export interface WarrenConfig {
  amqpPort: number;
  httpPort: number;
  bind: string;
  dataDir: string;
  logLevel: LogLevel;
  vhosts: string[];
  users: UserConfig[];
  limits: Limits;
  tasks: TasksConfig;
}

/** RabbitMQ-compatible defaults. */
export const DEFAULT_LIMITS: Limits = {
  frameSizeMax: 131072,
  channelMax: 2047,
  heartbeatSeconds: 60,
  messageSizeMaxBytes: 128 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  connectionsMax: 65_536,
  consumersPerChannelMax: 65_536,
  consumerTimeoutMs: 30 * 60 * 1000,
  socketBufferHighWaterBytes: 4 * 1024 * 1024,
  queueBacklogHighWaterMessages: 8192,
  flowControlBusyUtilization: 0,
  flowControlCatchUpMs: 1000,
  memoryHighWatermarkBytes: Math.floor(totalmem() * 0.4),
  queueMemoryWindowMessages: 10_000,
  diskFreeLimitBytes: 50 * 1024 * 1024,
  httpBodySizeMaxBytes: 20 * 1024 * 1024,
};

/** Task layer defaults: the keeper runs and keeps finished tasks for 7 days. */
export const DEFAULT_TASKS_CONFIG: TasksConfig = {
  keeperEnabled: true,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
};

/** The guest user RabbitMQ ships: full rights on "/", loopback connections only. */
export const GUEST_USER: UserConfig = {
  username: 'guest',
  password: 'guest',
  tags: ['administrator'],
  permissions: { '/': { configure: '.*', write: '.*', read: '.*' } },
  loopbackOnly: true,
};

/** Settings a caller may override; limits and task settings may be overridden one by one. */
export type WarrenConfigInput = Partial<Omit<WarrenConfig, 'limits' | 'tasks'>> & {
  limits?: Partial<Limits>;
  tasks?: Partial<TasksConfig>;
};

/** Fills every unset setting with its default and checks the result; throws on an invalid value. */
export function resolveConfig(input: WarrenConfigInput = {}): WarrenConfig {
  const config: WarrenConfig = {
    amqpPort: input.amqpPort ?? 5672,
    httpPort: input.httpPort ?? 15672,
    bind: input.bind ?? '0.0.0.0',
    dataDir: input.dataDir ?? './data',
    logLevel: input.logLevel ?? 'info',
    vhosts: input.vhosts ?? ['/'],
    users: input.users ?? [GUEST_USER],
    limits: { ...DEFAULT_LIMITS, ...input.limits },
    tasks: { ...DEFAULT_TASKS_CONFIG, ...input.tasks },
  };
  validateConfig(config);
  return config;
}

function validateConfig(config: WarrenConfig): void {
  checkPort('amqpPort', config.amqpPort);
  checkPort('httpPort', config.httpPort);
  if (!(LOG_LEVELS as readonly string[]).includes(config.logLevel)) {
    throw new Error(`logLevel must be one of ${LOG_LEVELS.join(', ')}, got ${String(config.logLevel)}`);
  }
  const { limits } = config;
  if (!Number.isInteger(limits.frameSizeMax) || limits.frameSizeMax < 4096) {
    throw new Error(`frameSizeMax must be an integer >= 4096, got ${limits.frameSizeMax}`);
  }
  if (!Number.isInteger(limits.channelMax) || limits.channelMax < 1 || limits.channelMax > 65535) {
    throw new Error(`channelMax must be an integer in 1..65535, got ${limits.channelMax}`);
  }
  if (!Number.isInteger(limits.heartbeatSeconds) || limits.heartbeatSeconds < 0 || limits.heartbeatSeconds > 65535) {
    throw new Error(`heartbeatSeconds must be an integer in 0..65535, got ${limits.heartbeatSeconds}`);
  }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value < 0) throw new Error(`limit ${name} must be a non-negative number`);
  }
  checkRange('frameSizeMax', limits.frameSizeMax, 4096, 0xffffffff);
  // Below a socket's own buffering (64 KiB) deliveries could stop without a drain event to restart them.
  checkRange('socketBufferHighWaterBytes', limits.socketBufferHighWaterBytes, 65536, Number.MAX_SAFE_INTEGER);
  checkRange('messageSizeMaxBytes', limits.messageSizeMaxBytes, 0, 512 * 1024 * 1024);
  checkRange('handshakeTimeoutMs', limits.handshakeTimeoutMs, 1, Number.MAX_SAFE_INTEGER);
  checkRange('connectionsMax', limits.connectionsMax, 1, Number.MAX_SAFE_INTEGER);
  checkRange('consumersPerChannelMax', limits.consumersPerChannelMax, 1, Number.MAX_SAFE_INTEGER);
  checkRange('consumerTimeoutMs', limits.consumerTimeoutMs, 1, 2 ** 31 - 1);
  checkRange('queueBacklogHighWaterMessages', limits.queueBacklogHighWaterMessages, 2, Number.MAX_SAFE_INTEGER);
  checkRange('httpBodySizeMaxBytes', limits.httpBodySizeMaxBytes, 1024, 1024 * 1024 * 1024);
  validateTasksConfig(config.tasks);
}

function validateTasksConfig(tasks: TasksConfig): void {
  if (typeof tasks.keeperEnabled !== 'boolean') throw new Error('tasks.keeperEnabled must be true or false');
  if (!Number.isInteger(tasks.retentionMs) || tasks.retentionMs < 1000 || tasks.retentionMs > Number.MAX_SAFE_INTEGER) {
    throw new Error(`tasks.retentionMs must be an integer >= 1000, got ${String(tasks.retentionMs)}`);
  }
}

function checkRange(name: string, value: number, min: number, max: number): void {
  if (value < min || value > max) throw new Error(`limit ${name} must be in ${min}..${max}, got ${value}`);
}

function checkPort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be an integer port in 0..65535, got ${port}`);
  }
}
