// Shared helpers for the benchmarks: the broker handle shape, free ports, AMQP readiness probing,
// /proc sampling (CPU time and RSS) and percentile maths. Node builtins only.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Names of the brokers the benchmarks know how to start. */
export type BrokerName = 'warren' | 'rabbitmq';

/** A broker running as a separate process, started by bench/warren.ts or bench/rabbitmq.ts. */
export interface BrokerHandle {
  /** Which broker this is. */
  readonly name: BrokerName;
  /** AMQP URL clients connect to. */
  readonly url: string;
  /** Process id of the broker's top process (the Erlang VM or the Node process). */
  readonly pid: number;
  /** Broker version string, as far as the starter knows it. */
  readonly version: string;
  /** Stops the broker cleanly, then forcibly, and removes its temp dir. */
  stop(): Promise<void>;
  /** Resident set size of the broker's whole process tree, in bytes. */
  memoryRssBytes(): number;
  /** CPU time (user + system) consumed so far by the broker's whole process tree, in milliseconds. */
  cpuTimeMs(): number;
}

/** Ports other engineers use for test RabbitMQ nodes; benchmarks never take these. */
const reservedPorts = new Set([4369, 5672, 5673, 5674, 5675, 15672, 25672]);

/** Returns a TCP port that was free on 127.0.0.1 a moment ago, within [min, max) when given. */
export async function findFreePort(range?: { min: number; max: number }): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const wanted = range === undefined ? 0 : range.min + Math.floor(Math.random() * (range.max - range.min));
    if (reservedPorts.has(wanted)) continue;
    const port = await tryListen(wanted);
    if (port !== undefined && !reservedPorts.has(port)) return port;
  }
  throw new Error('could not find a free TCP port');
}

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * Waits until something on host:port answers an AMQP 0-9-1 protocol header with a frame
 * (connection.start), so "ready" means the broker speaks AMQP, not merely that a port is open.
 * `stillRunning` lets the caller abort early when the broker process has died.
 */
export async function waitForAmqp(port: number, timeoutMs: number, stillRunning: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!stillRunning()) throw new Error('broker process exited before accepting AMQP connections');
    if (await probeAmqp(port)) return;
    await sleep(200);
  }
  throw new Error(`broker did not accept AMQP on port ${port} within ${timeoutMs} ms`);
}

function probeAmqp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write(Buffer.from([65, 77, 81, 80, 0, 0, 9, 1])));
    // Frame type 1 (method) is connection.start; anything else means "not ready / not AMQP".
    socket.once('data', (data: Buffer) => finish(data[0] === 1));
  });
}

let clockTicksPerSecond: number | undefined;

function clockTicks(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

interface ProcStat {
  readonly pid: number;
  readonly parentPid: number;
  readonly cpuTicks: number;
}

function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses; fields after the last ')' are fixed.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name: [0]=state [1]=ppid ... [11]=utime [12]=stime (fields 14 and 15 of proc(5)).
  return { pid, parentPid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

/** Returns `rootPid` and all its live descendants, read from /proc. */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat === undefined) continue;
    const siblings = children.get(stat.parentPid) ?? [];
    siblings.push(stat.pid);
    children.set(stat.parentPid, siblings);
  }
  const tree: number[] = [];
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop() as number;
    if (readProcStat(pid) === undefined) continue;
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** The command name of a process (/proc/<pid>/comm), or undefined when it is gone. */
export function processCommand(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) of one process so far, in milliseconds; 0 when it is gone. */
export function processCpuTimeMs(pid: number): number {
  const stat = readProcStat(pid);
  return stat === undefined ? 0 : (stat.cpuTicks * 1000) / clockTicks();
}

/** VmRSS of one process in bytes; 0 when it is gone. */
export function processRssBytes(pid: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 0;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return match?.[1] === undefined ? 0 : Number(match[1]) * 1024;
}

/** Sum of VmRSS over a process tree, in bytes. */
export function treeRssBytes(rootPid: number): number {
  return processTree(rootPid).reduce((sum, pid) => sum + processRssBytes(pid), 0);
}

/** Sum of CPU time over a process tree, in milliseconds. */
export function treeCpuTimeMs(rootPid: number): number {
  return processTree(rootPid).reduce((sum, pid) => sum + processCpuTimeMs(pid), 0);
}

/** Busy CPU time of the whole machine (all cores, all processes) so far, from /proc/stat. */
export interface SystemCpuSample {
  /** Milliseconds of CPU time spent not idle, summed over cores. */
  readonly busyMs: number;
  /** The part of busyMs spent in hard and soft interrupts (loopback TCP is mostly softirq). */
  readonly interruptMs: number;
}

/** Reads the machine-wide busy CPU time, so a run can tell whether other processes competed. */
export function systemCpuSample(): SystemCpuSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user).
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((sum, value) => sum + value, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const interrupts = (ticks[5] ?? 0) + (ticks[6] ?? 0);
  return { busyMs: ((total - idle) * 1000) / clockTicks(), interruptMs: (interrupts * 1000) / clockTicks() };
}

/** True while a process with this pid exists and is not a zombie. */
export function isProcessAlive(pid: number): boolean {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Sends `signal` to every process of a tree, leaves first; ignores processes already gone. */
export function killTree(rootPid: number, signal: NodeJS.Signals): void {
  for (const pid of processTree(rootPid).reverse()) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** Polls until `predicate` holds or `timeoutMs` passes; returns whether it held. */
export async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await sleep(100);
  }
  return predicate();
}

/** The median of `values` (the mean of the middle two for an even count, to 3 decimals); undefined when empty. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : round(((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2, 3);
}

/**
 * Nearest-rank percentile of an ascending-sorted array (p in [0, 100]).
 * Returns NaN for an empty array.
 */
export function percentile(sortedAscending: Float64Array, p: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sortedAscending.length);
  const index = Math.min(sortedAscending.length - 1, Math.max(0, rank - 1));
  return sortedAscending[index] as number;
}

/** Samples a broker's RSS in the background so a run can report its peak. */
export class RssSampler {
  private peakBytes = 0;
  private readonly timer: NodeJS.Timeout;

  /** Starts sampling `broker` every `intervalMs`. */
  constructor(
    private readonly broker: BrokerHandle,
    intervalMs = 250,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    this.peakBytes = Math.max(this.peakBytes, this.broker.memoryRssBytes());
  }

  /** Stops sampling and returns the peak RSS seen, in bytes. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peakBytes;
  }
}

/** Rounds to `digits` decimals, for JSON output that stays readable. */
export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Bytes as mebibytes, rounded to one decimal. */
export function mebibytes(bytes: number): number {
  return round(bytes / (1024 * 1024), 1);
}

const emergencyCleanups = new Set<() => void>();
let exitHookInstalled = false;

/**
 * Registers a synchronous last-resort cleanup (kill a broker's process tree) that runs if the
 * benchmark process exits or is interrupted before the broker was stopped normally.
 * Returns a function that unregisters it.
 */
export function registerEmergencyCleanup(cleanup: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    const runAll = (): void => {
      for (const each of emergencyCleanups) {
        try {
          each();
        } catch {
          // Best effort: we are exiting anyway.
        }
      }
      emergencyCleanups.clear();
    };
    process.on('exit', runAll);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        runAll();
        process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
      });
    }
  }
  emergencyCleanups.add(cleanup);
  return () => emergencyCleanups.delete(cleanup);
}

/**
 * Waits (up to `maxSeconds`) until the whole machine used less than `thresholdPercent` of one core
 * over a one-second sample, so a measurement does not start while other work is running.
 * Returns the last sample's busy percentage.
 */
export async function waitForQuietMachine(maxSeconds: number, thresholdPercent = 25): Promise<number> {
  const deadline = Date.now() + maxSeconds * 1000;
  for (;;) {
    const before = systemCpuSample();
    await sleep(1000);
    const busyPercent = (systemCpuSample().busyMs - before.busyMs) / 10;
    if (busyPercent < thresholdPercent || Date.now() >= deadline) return round(busyPercent, 1);
  }
}
