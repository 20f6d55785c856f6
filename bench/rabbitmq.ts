// Starts Debian's RabbitMQ (package rabbitmq-server) as a private, throwaway node for benchmarks:
// its own port, node name, Erlang distribution port, epmd, cookie, data and log dirs, no plugins
// (except rabbitmq_management on a free port when asked for, for the management benchmark),
// and no reading of /etc/rabbitmq. Nothing it does touches a system RabbitMQ or the test nodes
// other people run on ports 5673-5675.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findFreePort,
  isProcessAlive,
  killTree,
  processCommand,
  processTree,
  registerEmergencyCleanup,
  treeCpuTimeMs,
  treeRssBytes,
  waitForAmqp,
  waitUntil,
  type BrokerHandle,
} from './common.js';

/** Path that tells us the Debian rabbitmq-server package is installed. */
export const rabbitmqServerInstalledPath = '/usr/sbin/rabbitmq-server';

// The Debian /usr/sbin wrappers `su` to the rabbitmq user when run as root, which would drop our
// environment; the scripts under /usr/lib/rabbitmq/bin run as whoever calls them.
const serverScript = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const ctlScript = '/usr/lib/rabbitmq/bin/rabbitmqctl';

/** True when Debian's rabbitmq-server package is installed. */
export function isRabbitmqInstalled(): boolean {
  return existsSync(rabbitmqServerInstalledPath) && existsSync(serverScript);
}

function rabbitmqVersion(): string {
  try {
    // /usr/lib/rabbitmq/bin/rabbitmq-server -> ../lib/rabbitmq_server-3.10.8/sbin/rabbitmq-server
    const target = readlinkSync(serverScript);
    const match = /rabbitmq_server-([^/]+)/.exec(target);
    return match?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Options for {@link startRabbitmq}. */
export interface StartRabbitmqOptions {
  /** How long to wait for the node to accept AMQP, in milliseconds. */
  readonly startTimeoutMs?: number;
  /** Names the node and its temp directory, so a leftover shows who started it (default 'bench'). */
  readonly label?: string;
  /** Enable rabbitmq_management (from the installed package, offline) on a free loopback port. */
  readonly management?: boolean;
}

/** A running private RabbitMQ node; `httpUrl` is its management API when `management` was asked for. */
export interface RabbitmqHandle extends BrokerHandle {
  readonly httpUrl: string | undefined;
}

/** A private RabbitMQ node: a BrokerHandle that can also run rabbitmqctl against the node. */
export interface RabbitmqHandle extends BrokerHandle {
  /** Runs `rabbitmqctl -n NODE ...args` (add_user, set_permissions, ...); throws with its output when it fails. */
  rabbitmqctl(args: readonly string[]): string;
}

/** Starts a private RabbitMQ node and resolves once it accepts AMQP connections. */
export async function startRabbitmq(options: StartRabbitmqOptions = {}): Promise<RabbitmqHandle> {
  if (!isRabbitmqInstalled()) {
    throw new Error(`RabbitMQ is not installed (${rabbitmqServerInstalledPath} missing); apt-get install rabbitmq-server`);
  }
  const label = options.label ?? 'bench';
  const directory = mkdtempSync(join(tmpdir(), `warren-${label}-rabbitmq-`));
  // Ports: AMQP anywhere free; Erlang distribution below 45000 because rabbitmqctl uses
  // dist port + 10000 .. + 10010 for itself, and that must stay a valid port.
  const amqpPort = await findFreePort();
  const distributionPort = await findFreePort({ min: 20000, max: 30000 });
  const epmdPort = await findFreePort({ min: 30000, max: 32000 });
  const nodeName = `${label}-${process.pid}-${amqpPort}@localhost`;

  const managementPort = options.management === true ? await findFreePort() : undefined;
  writeFileSync(join(directory, 'enabled_plugins'), managementPort === undefined ? '[].\n' : '[rabbitmq_management].\n');
  writeFileSync(join(directory, 'rabbitmq-env.conf'), '');
  writeFileSync(
    join(directory, 'rabbitmq.conf'),
    [
      `listeners.tcp.1 = 127.0.0.1:${amqpPort}`,
      'log.console = false',
      'log.file.level = warning',
      ...(managementPort === undefined ? [] : [`management.tcp.port = ${managementPort}`, 'management.tcp.ip = 127.0.0.1']),
      '',
    ].join('\n'),
  );
  const environment: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    HOME: directory,
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distributionPort),
    RABBITMQ_MNESIA_BASE: join(directory, 'mnesia'),
    RABBITMQ_LOG_BASE: join(directory, 'log'),
    RABBITMQ_PID_FILE: join(directory, 'rabbitmq.pid'),
    RABBITMQ_CONFIG_FILE: join(directory, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(directory, 'advanced.config'),
    RABBITMQ_CONF_ENV_FILE: join(directory, 'rabbitmq-env.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(directory, 'enabled_plugins'),
    RABBITMQ_PLUGINS_EXPAND_DIR: join(directory, 'plugins-expand'),
  };

  // Our own epmd on a private port: the node registers there, and we can stop it afterwards
  // without disturbing an epmd (on 4369) that other people's nodes rely on.
  const epmd = spawn('epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], {
    env: environment,
    stdio: 'ignore',
  });
  epmd.on('error', () => undefined);

  const logPath = join(directory, 'startup.log');
  const logFd = openSync(logPath, 'a');
  const server: ChildProcess = spawn(serverScript, [], {
    cwd: directory,
    env: environment,
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const serverPid = server.pid;
  if (serverPid === undefined) throw new Error(`could not spawn ${serverScript}`);
  let exited = false;
  server.on('exit', () => {
    exited = true;
  });

  const killEverything = (): void => {
    killTree(serverPid, 'SIGKILL');
    if (epmd.pid !== undefined) killTree(epmd.pid, 'SIGKILL');
  };
  const unregister = registerEmergencyCleanup(() => {
    killEverything();
    rmSync(directory, { recursive: true, force: true });
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // A clean stop first, so the node flushes and leaves nothing behind; then signals.
    spawnSync(ctlScript, ['-n', nodeName, 'stop'], { env: environment, stdio: 'ignore', timeout: 30_000 });
    if (!(await waitUntil(() => exited, 10_000))) {
      killTree(serverPid, 'SIGTERM');
      if (!(await waitUntil(() => exited, 5_000))) killTree(serverPid, 'SIGKILL');
    }
    // The VM may outlive the wrapper shell briefly; make sure nothing of the tree remains.
    killTree(serverPid, 'SIGKILL');
    if (epmd.pid !== undefined) killTree(epmd.pid, 'SIGKILL');
    unregister();
    rmSync(directory, { recursive: true, force: true });
  };

  try {
    await waitForAmqp(amqpPort, options.startTimeoutMs ?? 120_000, () => !exited && isProcessAlive(serverPid));
  } catch (error) {
    const log = existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-2000) : '';
    await stop();
    throw new Error(`RabbitMQ failed to start: ${(error as Error).message}\n${log}`, { cause: error });
  }

  let beamPidFound: number | undefined;
  const beamPid = (): number => {
    if (beamPidFound === undefined || !isProcessAlive(beamPidFound)) {
      beamPidFound = processTree(serverPid).find((pid) => processCommand(pid) === 'beam.smp');
    }
    return beamPidFound ?? serverPid;
  };

  return {
    name: 'rabbitmq',
    url: `amqp://guest:guest@127.0.0.1:${amqpPort}/`,
    httpUrl: managementPort === undefined ? undefined : `http://127.0.0.1:${managementPort}`,
    pid: serverPid,
    version: `RabbitMQ ${rabbitmqVersion()}`,
    stop,
    rabbitmqctl: (args) => {
      const result = spawnSync(ctlScript, ['-n', nodeName, ...args], { env: environment, encoding: 'utf8', timeout: 60_000 });
      if (result.status !== 0) throw new Error(`rabbitmqctl ${args.join(' ')} exited ${String(result.status)}:\n${result.stdout}${result.stderr}`);
      return result.stdout;
    },
    // Measure the Erlang VM's own tree (beam.smp, erl_child_setup, inet_gethost), not the sh wrapper.
    memoryRssBytes: () => treeRssBytes(beamPid()),
    cpuTimeMs: () => treeCpuTimeMs(beamPid()),
  };
}
