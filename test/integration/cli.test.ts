/**
 * The `warren server` command: options from flags and WARREN_* environment variables, JSON logs,
 * and a clean shutdown on SIGTERM and SIGINT that closes client connections with 320 CONNECTION_FORCED.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import amqplib from 'amqplib';
import { freePort } from '../helpers/checks.js';

const skipExternal = { skip: process.env['WARREN_TEST_URL'] ? 'runs its own broker process' : false, timeout: 30_000 };


interface RunningServer {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `warren server` from source and waits for its "warren started" log line. */
async function startServer(args: string[], env: Record<string, string>): Promise<RunningServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'server', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!output.includes('warren started')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, output: () => output, exited };
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} closes connections with 320 CONNECTION_FORCED and exits 0`, skipExternal, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-cli-'));
    const port = await freePort();
    // The port comes from the environment, the rest from flags, to cover both ways of configuring.
    const server = await startServer(['--bind', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'info', '--http-port', '0'], { WARREN_AMQP_PORT: String(port) });
    try {
      const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${port}`);
      const closed = new Promise<Error | undefined>((resolve) => {
        connection.on('error', (error: Error) => resolve(error));
        connection.on('close', (error?: Error) => resolve(error));
      });
      server.child.kill(signal);
      const error = (await closed) as (Error & { code?: number }) | undefined;
      assert.equal(error?.code, 320, `expected 320 CONNECTION_FORCED, got ${String(error)}`);
      assert.equal(await server.exited, 0);
      const started = server.output().split('\n').find((line) => line.includes('warren started'));
      assert.ok(started !== undefined);
      const log = JSON.parse(started) as { amqpPort: number; dataDir: string; level: number };
      assert.equal(log.amqpPort, port, 'logs are JSON lines with the settings in effect');
      assert.equal(log.dataDir, dataDir);
      assert.ok((await stat(dataDir)).isDirectory());
    } finally {
      server.child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

test('an invalid option value is refused with a clear message and a non-zero exit', skipExternal, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'server', '--amqp-port', 'seventy'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.notEqual(code, 0);
  assert.match(output, /amqp-port/);
});
