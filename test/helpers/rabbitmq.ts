/**
 * A private RabbitMQ node for a test file, from Debian's rabbitmq-server package, started the way
 * bench/rabbitmq.ts starts one for benchmarks: its own epmd, Erlang distribution and AMQP ports, node
 * name, cookie (HOME), data and log directories, no plugins, nothing read from /etc/rabbitmq. In CI a
 * missing server fails the RabbitMQ suites; elsewhere they are skipped.
 */
import { isRabbitmqInstalled, startRabbitmq } from '../../bench/rabbitmq.js';

const inCi = (process.env['CI'] ?? '') !== '' && process.env['CI'] !== 'false';

/** Why RabbitMQ cannot run here, or undefined when it can. */
export const unavailable: string | undefined = isRabbitmqInstalled()
  ? undefined
  : 'no /usr/lib/rabbitmq/bin/rabbitmq-server (install Debian\'s rabbitmq-server package)';

/** The `skip` option for RabbitMQ tests: outside CI a missing server skips them; in CI it must fail them. */
export const skip: string | false = unavailable !== undefined && !inCi ? `skipped: ${unavailable}` : false;

/** A running private RabbitMQ node. */
export interface TestRabbitmq {
  /** amqp://guest:guest@127.0.0.1:PORT/ of the node's default vhost. */
  url: string;
  /** Stops the node and its epmd and removes its directory; safe to call twice. */
  stop(): Promise<void>;
  /** Adds a RabbitMQ user with full permissions on vhost `/` (or, with `vhostAccess: false`, none). */
  addUser(username: string, password: string, options?: { vhostAccess?: boolean }): void;
  /** http://127.0.0.1:PORT of RabbitMQ's management API, when started with `management: true`. */
  httpUrl: string | undefined;
  /** The prefetch count of each consumer of `queue` on vhost `/`, as `rabbitmqctl list_consumers` tells. */
  consumerPrefetchCounts(queue: string): number[];
}

/**
 * Starts a node and resolves once it accepts AMQP connections. If the test process exits without
 * calling stop() (a failed hook, an uncaught error, SIGINT), an exit hook kills the node and its epmd.
 */
export async function startTestRabbitmq(options: { management?: boolean } = {}): Promise<TestRabbitmq> {
  if (unavailable !== undefined) throw new Error(unavailable);
  const node = await startRabbitmq({ label: 'test', startTimeoutMs: 60_000, ...(options.management === true ? { management: true } : {}) });
  const addUser = (username: string, password: string, options: { vhostAccess?: boolean } = {}): void => {
    node.rabbitmqctl(['add_user', username, password]);
    if (options.vhostAccess !== false) node.rabbitmqctl(['set_permissions', '-p', '/', username, '.*', '.*', '.*']);
  };
  const consumerPrefetchCounts = (queue: string): number[] =>
    node
      .rabbitmqctl(['list_consumers', '-p', '/', '--no-table-headers', '--quiet', 'queue_name', 'prefetch_count'])
      .split('\n')
      .map((line) => line.split('\t'))
      .filter(([name]) => name === queue)
      .map(([, prefetch]) => Number(prefetch));
  return { url: node.url, stop: node.stop, addUser, httpUrl: node.httpUrl, consumerPrefetchCounts };
}
