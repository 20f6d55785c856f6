// Starts a private redis-server (Debian's package) on a free port with a temporary directory, for the
// BullMQ side of the task benchmark. Persistence stays at Redis' defaults (periodic RDB snapshots, no
// per-write fsync): that is how BullMQ is commonly run.
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

/** Starts redis-server on 127.0.0.1 and a free port; throws when it is not installed. */
export async function startRedis(): Promise<RedisHandle> {
  if (!existsSync(redisServerPath)) throw new Error(`${redisServerPath} missing: apt-get install redis-server`);
  const directory = mkdtempSync(join(tmpdir(), 'warren-bench-redis-'));
  const port = await findFreePort();
  const child = spawn(redisServerPath, ['--port', String(port), '--bind', '127.0.0.1', '--dir', directory, '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
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
