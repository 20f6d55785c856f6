// Starts a private redis-server (Debian's package) on a free port with a temporary directory, for the
// BullMQ side of the task benchmark. Persistence stays at Redis' defaults (periodic RDB snapshots, no
// per-write fsync): that is how BullMQ is commonly run. `fsyncEveryWrite` turns on the append-only file
// with appendfsync always, so that a job and its result are on disk before Redis answers, as Warren's
// confirms and results are: the comparison at equal durability.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort, killTree, processRssBytes, processCpuTimeMs, waitUntil } from './common.js';
import { createConnection } from 'node:net';

/** Where Debian installs the server. */
export const redisServerPath = '/usr/bin/redis-server';

/** A running private Redis. */
export interface RedisHandle {
  readonly port: number;
  readonly pid: number;
  memoryRssBytes(): number;
  cpuTimeMs(): number;
  stop(): Promise<void>;
}

/** How a private Redis persists. */
export interface RedisOptions {
  /** appendonly yes + appendfsync always (default: Redis' own defaults, RDB snapshots only). */
  readonly fsyncEveryWrite?: boolean;
}

/** Starts redis-server on 127.0.0.1 and a free port; throws when it is not installed. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisHandle> {
  if (!existsSync(redisServerPath)) throw new Error(`${redisServerPath} missing: apt-get install redis-server`);
  const directory = mkdtempSync(join(tmpdir(), 'warren-bench-redis-'));
  const port = await findFreePort();
  const persistence = options.fsyncEveryWrite === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : [];
  const arguments_ = ['--port', String(port), '--bind', '127.0.0.1', '--dir', directory, '--maxmemory-policy', 'noeviction', ...persistence];
  const child = spawn(redisServerPath, arguments_, { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn redis-server');
  const listening = await waitForPort(port, 10_000);
  if (!listening) {
    killTree(pid, 'SIGKILL');
    throw new Error('redis-server did not start listening');
  }
  return {
    port,
    pid,
    memoryRssBytes: () => processRssBytes(pid),
    cpuTimeMs: () => processCpuTimeMs(pid),
    stop: async () => {
      child.kill('SIGTERM');
      await waitUntil(() => child.exitCode !== null || child.signalCode !== null, 5000);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
