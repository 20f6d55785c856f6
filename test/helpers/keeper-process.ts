/**
 * Runs `warren keeper` as a child process from source (as the other CLI tests run `warren server` and
 * `warren worker`), and reads the HTTP port it logged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './amqp.js';

/** A running `warren keeper`. */
export interface KeeperProcess {
  child: ChildProcess;
  /** http://127.0.0.1:PORT of its gateway. */
  base: string;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Spawns `warren keeper` with `args` (logging at info, which the start line needs); resolves once it
 * logged "warren keeper started". A keeper that does not start is killed, so no test waits on it.
 */
export async function spawnKeeper(args: string[], env: Record<string, string> = {}): Promise<KeeperProcess> {
  const { child, output, exited } = spawnKeeperCommand(['--http-port', '0', '--http-host', '127.0.0.1', ...args, '--log-level', 'info'], env);
  const started = (): boolean => output().includes('warren keeper started');
  await waitFor(() => started() || child.exitCode !== null, 30_000, 'warren keeper to start').catch(() => undefined);
  const line = output().split('\n').find((each) => each.includes('warren keeper started'));
  if (line === undefined) {
    child.kill('SIGKILL');
    throw new Error(`warren keeper did not start:\n${output()}`);
  }
  const { httpPort } = JSON.parse(line) as { httpPort: number };
  return { child, base: `http://127.0.0.1:${httpPort}`, output, exited };
}

/** Spawns `warren keeper ...args` and collects its output, without waiting for anything. */
export function spawnKeeperCommand(args: string[], env: Record<string, string> = {}): Omit<KeeperProcess, 'base'> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'keeper', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** The Authorization header of HTTP basic auth. */
export function basicAuth(username: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}
